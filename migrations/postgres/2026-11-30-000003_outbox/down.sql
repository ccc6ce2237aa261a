DROP TABLE notify_state;
DROP TABLE outbox;
