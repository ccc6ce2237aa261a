-- Like every other table, the one-time submission keys are kept without a
-- hidden rowid: a rowid counts the submissions in the order they arrived.
CREATE TABLE submissions_keyed (
    key_hash BLOB PRIMARY KEY NOT NULL,
    used_on DATE NOT NULL
) WITHOUT ROWID;
INSERT INTO submissions_keyed (key_hash, used_on) SELECT key_hash, used_on FROM submissions;
DROP TABLE submissions;
ALTER TABLE submissions_keyed RENAME TO submissions;
