-- Readerships: who reads a case (the Secretary's keys, the Bureau's, or
-- both after an alert), which role each outbox row is for, which role and
-- key each session and journal line belongs to. Existing rows are the
-- Secretary's, as they always were.
ALTER TABLE cases ADD COLUMN readership TEXT NOT NULL DEFAULT 'secretary'
    CHECK (readership IN ('secretary', 'bureau', 'both'));
CREATE INDEX cases_inbox_by_readership ON cases (readership, received_on DESC, id);
-- Whether the Secretary referred the case to the Bureau (an alert or a
-- step-aside), for the Bureau's inbox.
ALTER TABLE cases ADD COLUMN referred BOOLEAN NOT NULL DEFAULT FALSE;

-- Who wrote a reply: the Secretary's readers or the Bureau's (NULL for the
-- reporter's entries), so that the reporter sees a Bureau reply as such.
ALTER TABLE entries ADD COLUMN replied_by TEXT
    CHECK (replied_by IS NULL OR replied_by IN ('secretary', 'bureau'));

ALTER TABLE attachments ADD COLUMN readership TEXT NOT NULL DEFAULT 'secretary'
    CHECK (readership IN ('secretary', 'bureau', 'both'));

ALTER TABLE outbox ADD COLUMN role TEXT NOT NULL DEFAULT 'secretary'
    CHECK (role IN ('secretary', 'bureau'));

ALTER TABLE challenges ADD COLUMN role TEXT NOT NULL DEFAULT 'secretary'
    CHECK (role IN ('secretary', 'bureau'));
ALTER TABLE challenges ADD COLUMN key_fingerprint TEXT NOT NULL DEFAULT '';

ALTER TABLE sessions ADD COLUMN role TEXT NOT NULL DEFAULT 'secretary'
    CHECK (role IN ('secretary', 'bureau'));
ALTER TABLE sessions ADD COLUMN key_fingerprint TEXT NOT NULL DEFAULT '';

-- Whose journal a line belongs to, and who did it (NULL for the system).
ALTER TABLE journal ADD COLUMN readership TEXT NOT NULL DEFAULT 'secretary'
    CHECK (readership IN ('secretary', 'bureau', 'both'));
ALTER TABLE journal ADD COLUMN role TEXT
    CHECK (role IS NULL OR role IN ('secretary', 'bureau'));
ALTER TABLE journal ADD COLUMN key_fingerprint TEXT;

ALTER TABLE purged_figures ADD COLUMN readership TEXT NOT NULL DEFAULT 'secretary'
    CHECK (readership IN ('secretary', 'bureau', 'both'));
