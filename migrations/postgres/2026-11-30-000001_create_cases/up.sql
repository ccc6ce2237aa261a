-- Cases and their encrypted entries. Identifiers are random UUIDs (as text,
-- the same on both backends); no serial column reveals arrival order.
CREATE TABLE cases (
    id TEXT PRIMARY KEY NOT NULL,
    locator BYTEA NOT NULL UNIQUE CHECK (octet_length(locator) = 32),
    reporter_recipient TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('received', 'acknowledged', 'in_review', 'closed')),
    closure_reason TEXT,
    received_on DATE NOT NULL,
    ack_due DATE NOT NULL,
    acknowledged_on DATE,
    feedback_due DATE NOT NULL,
    closed_on DATE,
    on_hold BOOLEAN NOT NULL DEFAULT FALSE
);

-- The inbox order (newest first, ties by identifier), with and without a
-- status filter: pages are read from these indexes alone.
CREATE INDEX cases_inbox ON cases (received_on DESC, id);
CREATE INDEX cases_inbox_by_status ON cases (status, received_on DESC, id);

CREATE TABLE entries (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('report', 'message', 'reply')),
    created_on DATE NOT NULL,
    ciphertext BYTEA NOT NULL,
    UNIQUE (case_id, position)
);
