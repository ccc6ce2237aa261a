-- Login under flood: a challenge whose answer was tried is kept, spent, so
-- that failed and unanswered challenges both count toward "flood"; the
-- proof-of-work seeds (one random seed per minute, shared by every
-- instance) and the proofs already used.
ALTER TABLE challenges ADD COLUMN spent BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX challenges_by_expiry ON challenges (expires_at);

CREATE TABLE login_seeds (
    minute BIGINT PRIMARY KEY NOT NULL,
    seed BLOB NOT NULL CHECK (length(seed) = 32)
) WITHOUT ROWID;

CREATE TABLE login_proofs (
    digest BLOB PRIMARY KEY NOT NULL CHECK (length(digest) = 32),
    expires_at BIGINT NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_proofs_by_expiry ON login_proofs (expires_at);
