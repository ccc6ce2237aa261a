-- The day the reporter got feedback (measures envisaged or taken), which the
-- law requires within three months of the acknowledgement; not the closure.
ALTER TABLE cases ADD COLUMN feedback_on DATE;
