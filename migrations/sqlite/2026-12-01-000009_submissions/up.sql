-- One-time submission keys: a form sent twice (a reload, Back then send
-- again, a retry after an outage) lands once. Only a hash of the key and the
-- day it was used are kept, for a day or two, and nothing links a key to the
-- case or the message it sent.
CREATE TABLE submissions (
    key_hash BLOB PRIMARY KEY NOT NULL,
    used_on DATE NOT NULL
);
