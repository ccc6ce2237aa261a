-- Attachments: each file is its own age file, stored in chunks of at most
-- 1 MiB so that neither an upload nor a download ever holds a whole file in
-- memory. An upload is "pending" (case_id NULL, pending_until set) until the
-- report or message that names it is stored; pending uploads that are never
-- claimed are swept after pending_until.
CREATE TABLE attachments (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT REFERENCES cases (id) ON DELETE CASCADE,
    size BIGINT NOT NULL DEFAULT 0,
    pending_until BIGINT
) WITHOUT ROWID;
CREATE INDEX attachments_by_case ON attachments (case_id);
CREATE INDEX attachments_pending ON attachments (pending_until);

CREATE TABLE attachment_chunks (
    attachment_id TEXT NOT NULL REFERENCES attachments (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (attachment_id, seq)
) WITHOUT ROWID;
