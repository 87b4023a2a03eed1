-- Queries of the catalogue (storage/queries.h), PostgreSQL dialect.
-- Each block starts with "-- name: NAME"; parameters are $1, $2, ...

-- name: schema_exists
SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_version';

-- name: schema_version
SELECT COALESCE(MAX(version), 0) FROM schema_version;

-- name: schema_set_version
UPDATE schema_version SET version = $1;

-- name: account_create
INSERT INTO accounts (domain, username, created,
    sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key,
    sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING id;

-- name: account_get
SELECT id, created, disabled,
    sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key,
    sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key
FROM accounts WHERE domain = $1 AND username = $2;

-- name: account_set_secrets
UPDATE accounts SET
    sha1_salt = $3, sha1_iterations = $4, sha1_stored_key = $5, sha1_server_key = $6,
    sha256_salt = $7, sha256_iterations = $8, sha256_stored_key = $9, sha256_server_key = $10
WHERE domain = $1 AND username = $2;

-- name: account_set_disabled
UPDATE accounts SET disabled = $3 WHERE domain = $1 AND username = $2;

-- name: account_delete
DELETE FROM accounts WHERE domain = $1 AND username = $2;

-- name: account_list
SELECT username, created, disabled FROM accounts WHERE domain = $1 ORDER BY username;

-- name: account_list_all
SELECT domain, username, created, disabled FROM accounts ORDER BY domain, username;

-- name: offline_store
INSERT INTO offline_messages (account_id, created, stanza)
SELECT id, $3, $4 FROM accounts WHERE domain = $1 AND username = $2
RETURNING id;

-- name: offline_fetch
SELECT o.id, o.created, o.stanza FROM offline_messages o
JOIN accounts a ON a.id = o.account_id
WHERE a.domain = $1 AND a.username = $2 ORDER BY o.id;

-- name: offline_delete
DELETE FROM offline_messages
WHERE account_id = (SELECT id FROM accounts WHERE domain = $1 AND username = $2) AND id <= $3;

-- name: offline_count
SELECT count(*) FROM offline_messages
WHERE account_id = (SELECT id FROM accounts WHERE domain = $1 AND username = $2);
