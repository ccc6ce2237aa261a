CREATE TABLE submissions_rowid (
    key_hash BLOB PRIMARY KEY NOT NULL,
    used_on DATE NOT NULL
);
INSERT INTO submissions_rowid (key_hash, used_on) SELECT key_hash, used_on FROM submissions;
DROP TABLE submissions;
ALTER TABLE submissions_rowid RENAME TO submissions;
