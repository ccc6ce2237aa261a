-- Retention: the daily purge's gate, and what a purged case leaves for the
-- annual figures: its month of receipt, its closure reason and its delays in
-- days. No identifier of the case, no date, no content.
INSERT INTO notify_state (key, value) VALUES ('purge_day', 0);

CREATE TABLE purged_figures (
    id TEXT PRIMARY KEY NOT NULL,
    received_month TEXT NOT NULL,
    closure_reason TEXT,
    ack_days INTEGER,
    close_days INTEGER,
    feedback_on_time BOOLEAN NOT NULL
) WITHOUT ROWID;
CREATE INDEX purged_figures_by_month ON purged_figures (received_month);
