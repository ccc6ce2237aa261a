-- The daily rewrite of the physical layout (rows laid out again in key
-- order, so that no position in the files follows arrival): its day gate,
-- shared between instances.
INSERT INTO notify_state (key, value) VALUES ('rewrite_day', 0);
