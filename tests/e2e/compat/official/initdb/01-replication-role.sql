-- What users of the official image put into /docker-entrypoint-initdb.d to
-- prepare a primary for a streaming replica.
CREATE ROLE repl WITH REPLICATION LOGIN PASSWORD 'repl-secret';
CREATE TABLE made_by_init (note text);
INSERT INTO made_by_init VALUES ('01-replication-role.sql');
