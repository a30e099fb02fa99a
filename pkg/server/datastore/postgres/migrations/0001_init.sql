-- 0001: initial PostgreSQL schema, the same tables as SQLite's migrations
-- 0001-0003 with PostgreSQL's types: BOOLEAN, BYTEA.
--
-- Conventions: entry times are Unix seconds (as in datastore.Entry);
-- agent, join-token and relationship times are Unix nanoseconds (columns
-- suffixed _ns) so time.Time values round-trip exactly, 0 meaning the zero
-- time. Child rows go with their entry or agent by ON DELETE CASCADE.

CREATE TABLE entries (
	id              TEXT    NOT NULL PRIMARY KEY,
	spiffe_id       TEXT    NOT NULL,
	parent_id       TEXT    NOT NULL,
	-- selectors_hash is selector.Set.Digest of the sorted selector set; it
	-- makes (spiffe_id, parent_id, selectors) unique and exact matches cheap.
	selectors_hash  TEXT    NOT NULL,
	x509_svid_ttl   INTEGER NOT NULL DEFAULT 0,
	jwt_svid_ttl    INTEGER NOT NULL DEFAULT 0,
	hint            TEXT    NOT NULL DEFAULT '',
	admin           BOOLEAN NOT NULL DEFAULT FALSE,
	downstream      BOOLEAN NOT NULL DEFAULT FALSE,
	expires_at      BIGINT  NOT NULL DEFAULT 0,
	revision_number BIGINT  NOT NULL DEFAULT 0,
	created_at      BIGINT  NOT NULL
);
CREATE UNIQUE INDEX entries_identity ON entries (spiffe_id, parent_id, selectors_hash);
CREATE INDEX entries_parent_id ON entries (parent_id);
CREATE INDEX entries_hint ON entries (hint);

CREATE TABLE entry_selectors (
	entry_id TEXT NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
	type     TEXT NOT NULL,
	value    TEXT NOT NULL,
	PRIMARY KEY (entry_id, type, value)
);
CREATE INDEX entry_selectors_type_value ON entry_selectors (type, value);

CREATE TABLE entry_dns_names (
	entry_id TEXT    NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	name     TEXT    NOT NULL,
	PRIMARY KEY (entry_id, position)
);

CREATE TABLE entry_federates_with (
	entry_id     TEXT NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
	trust_domain TEXT NOT NULL,
	PRIMARY KEY (entry_id, trust_domain)
);
CREATE INDEX entry_federates_with_trust_domain ON entry_federates_with (trust_domain);

-- entries_revision and bundles_revision hold one row each; every entry
-- (bundle) write bumps its counter in the same transaction, so any server
-- sharing the database can detect change.
CREATE TABLE entries_revision (
	id       INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	revision BIGINT  NOT NULL
);
INSERT INTO entries_revision (id, revision) VALUES (1, 0);

CREATE TABLE bundles_revision (
	id       INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	revision BIGINT  NOT NULL
);
INSERT INTO bundles_revision (id, revision) VALUES (1, 0);

CREATE TABLE agents (
	spiffe_id         TEXT    NOT NULL PRIMARY KEY,
	attestation_type  TEXT    NOT NULL DEFAULT '',
	serial_number     TEXT    NOT NULL DEFAULT '',
	new_serial_number TEXT    NOT NULL DEFAULT '',
	expires_at_ns     BIGINT  NOT NULL DEFAULT 0,
	banned            BOOLEAN NOT NULL DEFAULT FALSE,
	can_reattest      BOOLEAN NOT NULL DEFAULT FALSE,
	created_at_ns     BIGINT  NOT NULL,
	updated_at_ns     BIGINT  NOT NULL
);

CREATE TABLE agent_selectors (
	agent_id TEXT NOT NULL REFERENCES agents (spiffe_id) ON DELETE CASCADE,
	type     TEXT NOT NULL,
	value    TEXT NOT NULL,
	PRIMARY KEY (agent_id, type, value)
);

CREATE TABLE join_tokens (
	token         TEXT   NOT NULL PRIMARY KEY,
	expires_at_ns BIGINT NOT NULL
);
CREATE INDEX join_tokens_expires_at ON join_tokens (expires_at_ns);

CREATE TABLE bundles (
	trust_domain TEXT  NOT NULL PRIMARY KEY,
	data         BYTEA NOT NULL
);

-- A relationship's bundle is the row of its trust domain in bundles;
-- deleting a relationship keeps the bundle, as SPIRE does.
CREATE TABLE federation_relationships (
	trust_domain            TEXT   NOT NULL PRIMARY KEY,
	bundle_endpoint_url     TEXT   NOT NULL,
	bundle_endpoint_profile TEXT   NOT NULL
		CHECK (bundle_endpoint_profile IN ('https_spiffe', 'https_web')),
	endpoint_spiffe_id      TEXT   NOT NULL DEFAULT '',
	created_at_ns           BIGINT NOT NULL,
	updated_at_ns           BIGINT NOT NULL
);
