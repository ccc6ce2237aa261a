DROP TRIGGER journal_no_delete;
DROP TRIGGER journal_no_update;
DROP TABLE journal;
DROP TABLE sessions;
DROP TABLE challenges;
DROP INDEX entries_unread;
ALTER TABLE entries DROP COLUMN unread;
