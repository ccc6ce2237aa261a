DROP TABLE entries;
DROP TABLE cases;
