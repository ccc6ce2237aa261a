-- Notifications to the Secretary. A row is written in the same transaction
-- as the event it announces, holds no content and no case identifier, and
-- is deleted once the relay has accepted the email that counts it.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('activity', 'reminder')),
    ack_soon INTEGER NOT NULL DEFAULT 0,
    feedback_soon INTEGER NOT NULL DEFAULT 0,
    overdue INTEGER NOT NULL DEFAULT 0,
    due_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT,
    lease_until BIGINT,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (due_at);

-- Small shared facts between instances (the day of the last reminder).
CREATE TABLE notify_state (
    key TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO notify_state (key, value) VALUES ('reminder_day', 0);
