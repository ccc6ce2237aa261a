ALTER TABLE cases DROP COLUMN feedback_on;
