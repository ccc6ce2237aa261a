DROP TRIGGER journal_no_truncate ON journal;
DROP TRIGGER journal_no_update ON journal;
DROP FUNCTION journal_append_only();
DROP TABLE journal;
DROP TABLE sessions;
DROP TABLE challenges;
DROP INDEX entries_unread;
ALTER TABLE entries DROP COLUMN unread;
