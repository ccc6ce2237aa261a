-- The Secretary's workspace: unread reporter messages, login challenges,
-- sessions (stored as hashes), and the append-only journal. Times here are
-- the Secretary's and the system's, in Unix seconds; reporter-originated
-- events keep dates only.
ALTER TABLE entries ADD COLUMN unread BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX entries_unread ON entries (case_id, unread);

CREATE TABLE challenges (
    id TEXT PRIMARY KEY NOT NULL,
    digest BLOB NOT NULL CHECK (length(digest) = 32),
    expires_at BIGINT NOT NULL
) WITHOUT ROWID;

CREATE TABLE sessions (
    id_hash BLOB PRIMARY KEY NOT NULL CHECK (length(id_hash) = 32),
    csrf_hash BLOB NOT NULL CHECK (length(csrf_hash) = 32),
    created_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
) WITHOUT ROWID;

CREATE TABLE journal (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT,
    action TEXT NOT NULL,
    detail TEXT,
    occurred_at BIGINT NOT NULL
) WITHOUT ROWID;
CREATE INDEX journal_by_case ON journal (case_id, occurred_at);
CREATE INDEX journal_by_time ON journal (occurred_at);

CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
