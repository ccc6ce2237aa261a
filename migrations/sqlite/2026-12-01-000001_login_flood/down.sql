DROP INDEX login_proofs_by_expiry;
DROP TABLE login_proofs;
DROP TABLE login_seeds;
DROP INDEX challenges_by_expiry;
ALTER TABLE challenges DROP COLUMN spent;
