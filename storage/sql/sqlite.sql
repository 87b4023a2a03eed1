-- Queries of the catalogue (storage/queries.h), SQLite dialect.
-- Each block starts with "-- name: NAME"; parameters are $1, $2, ...

-- name: schema_exists
SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version';

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

-- name: user_load
SELECT id, roster_version, disabled,
    (SELECT count(*) FROM offline_messages o WHERE o.account_id = accounts.id)
FROM accounts WHERE domain = $1 AND username = $2;

-- name: roster_load
SELECT r.jid, r.name, r.subscription, r.ask, r.approved, r.version, g.grp
FROM roster_items r
JOIN accounts a ON a.id = r.account_id
LEFT JOIN roster_groups g ON g.account_id = r.account_id AND g.jid = r.jid
WHERE a.domain = $1 AND a.username = $2
ORDER BY r.jid, g.grp;

-- name: roster_upsert
INSERT INTO roster_items (account_id, jid, name, subscription, ask, approved, version)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (account_id, jid) DO UPDATE SET name = excluded.name,
    subscription = excluded.subscription, ask = excluded.ask,
    approved = excluded.approved, version = excluded.version;

-- name: roster_groups_clear
DELETE FROM roster_groups WHERE account_id = $1 AND jid = $2;

-- name: roster_group_add
INSERT INTO roster_groups (account_id, jid, grp) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING;

-- name: roster_delete
DELETE FROM roster_items WHERE account_id = $1 AND jid = $2;

-- name: roster_removed_set
INSERT INTO roster_removed (account_id, jid, version) VALUES ($1, $2, $3)
ON CONFLICT (account_id, jid) DO UPDATE SET version = excluded.version;

-- name: roster_removed_clear
DELETE FROM roster_removed WHERE account_id = $1 AND jid = $2;

-- name: roster_removed_since
SELECT jid, version FROM roster_removed WHERE account_id = $1 AND version > $2
ORDER BY version;

-- name: roster_set_version
UPDATE accounts SET roster_version = $2 WHERE id = $1;

-- name: subreq_load
SELECT s.jid, s.stanza FROM subscription_requests s
JOIN accounts a ON a.id = s.account_id
WHERE a.domain = $1 AND a.username = $2
ORDER BY s.created, s.jid;

-- name: subreq_store
INSERT INTO subscription_requests (account_id, jid, stanza, created) VALUES ($1, $2, $3, $4)
ON CONFLICT (account_id, jid) DO UPDATE SET stanza = excluded.stanza, created = excluded.created;

-- name: subreq_delete
DELETE FROM subscription_requests WHERE account_id = $1 AND jid = $2;

-- name: offline_put
INSERT INTO offline_messages (account_id, created, stanza)
SELECT $1, $2, $3
WHERE (SELECT count(*) FROM offline_messages WHERE account_id = $1) < $4
RETURNING id;

-- name: offline_take
SELECT id, created, stanza FROM offline_messages WHERE account_id = $1 ORDER BY id;

-- name: offline_drop
DELETE FROM offline_messages WHERE account_id = $1 AND id <= $2;

-- name: vcard_get
SELECT vcard FROM vcards WHERE account_id = $1;

-- name: vcard_set
INSERT INTO vcards (account_id, vcard, updated) VALUES ($1, $2, $3)
ON CONFLICT (account_id) DO UPDATE SET vcard = excluded.vcard, updated = excluded.updated;

-- name: private_get
SELECT data FROM private_xml WHERE account_id = $1 AND namespace = $2;

-- name: private_set
INSERT INTO private_xml (account_id, namespace, data) VALUES ($1, $2, $3)
ON CONFLICT (account_id, namespace) DO UPDATE SET data = excluded.data;

-- name: last_get
SELECT seen, status FROM last_activity WHERE account_id = $1;

-- name: last_set
INSERT INTO last_activity (account_id, seen, status) VALUES ($1, $2, $3)
ON CONFLICT (account_id) DO UPDATE SET seen = excluded.seen, status = excluded.status;
