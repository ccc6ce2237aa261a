-- The twin of an SQLite migration (a table rebuilt without a rowid);
-- PostgreSQL tables have no rowid, and nothing changes here.
SELECT 1;
