-- 001-initial (PostgreSQL): accounts and the per-account data of RFC 6120/6121
-- and the XEPs sm serves first. Every per-account table refers to
-- accounts(id) with ON DELETE CASCADE, so deleting an account deletes its
-- data in the same statement (foreign keys are always on in PostgreSQL).
-- Times are Unix seconds (UTC).

CREATE TABLE schema_version (
	version		BIGINT NOT NULL
);

-- Credentials are SCRAM secrets only (RFC 5802, RFC 7677): never a password.
CREATE TABLE accounts (
	id			BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	domain			TEXT NOT NULL,
	username		TEXT NOT NULL,
	created			BIGINT NOT NULL,
	disabled		BIGINT NOT NULL DEFAULT 0,
	sha1_salt		BYTEA NOT NULL,
	sha1_iterations		BIGINT NOT NULL,
	sha1_stored_key		BYTEA NOT NULL,
	sha1_server_key		BYTEA NOT NULL,
	sha256_salt		BYTEA NOT NULL,
	sha256_iterations	BIGINT NOT NULL,
	sha256_stored_key	BYTEA NOT NULL,
	sha256_server_key	BYTEA NOT NULL,
	roster_version		BIGINT NOT NULL DEFAULT 0,
	UNIQUE (domain, username)
);

-- RFC 6121 roster. subscription: 0 none, 1 to, 2 from, 3 both; ask: an
-- outbound request is pending; approved: pre-approved (RFC 6121 3.4);
-- version: the account's roster_version when the item last changed.
CREATE TABLE roster_items (
	account_id	BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	jid		TEXT NOT NULL,
	name		TEXT,
	subscription	BIGINT NOT NULL DEFAULT 0,
	ask		BIGINT NOT NULL DEFAULT 0,
	approved	BIGINT NOT NULL DEFAULT 0,
	version		BIGINT NOT NULL,
	PRIMARY KEY (account_id, jid)
);

CREATE TABLE roster_groups (
	account_id	BIGINT NOT NULL,
	jid		TEXT NOT NULL,
	grp		TEXT NOT NULL,
	PRIMARY KEY (account_id, jid, grp),
	FOREIGN KEY (account_id, jid) REFERENCES roster_items(account_id, jid) ON DELETE CASCADE
);

-- Removed items, kept so roster versioning (XEP-0237) can report deletions.
CREATE TABLE roster_removed (
	account_id	BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	jid		TEXT NOT NULL,
	version		BIGINT NOT NULL,
	PRIMARY KEY (account_id, jid)
);

-- Inbound subscription requests not yet answered (RFC 6121 3.1.3), kept
-- with the stanza so they can be delivered at the next login.
CREATE TABLE subscription_requests (
	account_id	BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	jid		TEXT NOT NULL,
	stanza		TEXT NOT NULL,
	created		BIGINT NOT NULL,
	PRIMARY KEY (account_id, jid)
);

-- Offline messages (XEP-0160), in arrival order.
CREATE TABLE offline_messages (
	id		BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account_id	BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	created		BIGINT NOT NULL,
	stanza		TEXT NOT NULL
);
CREATE INDEX offline_messages_account ON offline_messages (account_id, id);

-- vcard-temp (XEP-0054): the <vCard/> element as XML.
CREATE TABLE vcards (
	account_id	BIGINT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	vcard		TEXT NOT NULL,
	updated		BIGINT NOT NULL
);

-- Private XML storage (XEP-0049): one element per namespace.
CREATE TABLE private_xml (
	account_id	BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	namespace	TEXT NOT NULL,
	data		TEXT NOT NULL,
	PRIMARY KEY (account_id, namespace)
);

-- Last activity (XEP-0012): when the last session ended, and its status.
CREATE TABLE last_activity (
	account_id	BIGINT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	seen		BIGINT NOT NULL,
	status		TEXT
);

-- Privacy lists (XEP-0016). Items in order; type: NULL (fall-through), jid,
-- group or subscription; stanzas: bit mask of message 1, iq 2,
-- presence-in 4, presence-out 8 (0: all).
CREATE TABLE privacy_lists (
	account_id	BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name		TEXT NOT NULL,
	is_default	BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (account_id, name)
);

CREATE TABLE privacy_items (
	account_id	BIGINT NOT NULL,
	name		TEXT NOT NULL,
	position	BIGINT NOT NULL,
	type		TEXT,
	value		TEXT,
	allow		BIGINT NOT NULL,
	stanzas		BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (account_id, name, position),
	FOREIGN KEY (account_id, name) REFERENCES privacy_lists(account_id, name) ON DELETE CASCADE
);

-- Blocking command (XEP-0191).
CREATE TABLE blocklist (
	account_id	BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	jid		TEXT NOT NULL,
	PRIMARY KEY (account_id, jid)
);

-- The migrator sets the version after each migration.
INSERT INTO schema_version (version) VALUES (0);
