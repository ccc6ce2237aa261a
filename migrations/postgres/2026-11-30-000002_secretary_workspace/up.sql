-- The Secretary's workspace: unread reporter messages, login challenges,
-- sessions (stored as hashes), and the append-only journal. Times here are
-- the Secretary's and the system's, in Unix seconds; reporter-originated
-- events keep dates only.
ALTER TABLE entries ADD COLUMN unread BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX entries_unread ON entries (case_id, unread);

CREATE TABLE challenges (
    id TEXT PRIMARY KEY NOT NULL,
    digest BYTEA NOT NULL CHECK (octet_length(digest) = 32),
    expires_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    id_hash BYTEA PRIMARY KEY NOT NULL CHECK (octet_length(id_hash) = 32),
    csrf_hash BYTEA NOT NULL CHECK (octet_length(csrf_hash) = 32),
    created_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);

CREATE TABLE journal (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT,
    action TEXT NOT NULL,
    detail TEXT,
    occurred_at BIGINT NOT NULL
);
CREATE INDEX journal_by_case ON journal (case_id, occurred_at);
CREATE INDEX journal_by_time ON journal (occurred_at);

CREATE FUNCTION journal_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the journal is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER journal_no_update BEFORE UPDATE OR DELETE ON journal
FOR EACH ROW EXECUTE FUNCTION journal_append_only();
CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON journal
FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only();
