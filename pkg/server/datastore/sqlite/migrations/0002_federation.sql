-- 0002: federation relationships created through the trust domain API.
--
-- Conventions as in 0001: times are Unix nanoseconds (columns suffixed
-- _ns). A relationship's bundle is the row of its trust domain in bundles;
-- deleting a relationship keeps the bundle, as SPIRE does, so there is no
-- foreign key between the two.

CREATE TABLE federation_relationships (
	trust_domain            TEXT   NOT NULL PRIMARY KEY,
	bundle_endpoint_url     TEXT   NOT NULL,
	bundle_endpoint_profile TEXT   NOT NULL
		CHECK (bundle_endpoint_profile IN ('https_spiffe', 'https_web')),
	-- endpoint_spiffe_id is '' for the https_web profile.
	endpoint_spiffe_id      TEXT   NOT NULL DEFAULT '',
	created_at_ns           BIGINT NOT NULL,
	updated_at_ns           BIGINT NOT NULL
);

-- Earlier versions stored federates_with as given, and SPIRE's CLI gives
-- spiffe://<td>. Bundles and relationships are keyed by the trust domain
-- name, and the entry API now stores names, so rewrite the old form
-- (dropping a row that would duplicate the entry's name form).
UPDATE OR IGNORE entry_federates_with SET trust_domain = substr(trust_domain, 10)
	WHERE trust_domain LIKE 'spiffe://%';
DELETE FROM entry_federates_with WHERE trust_domain LIKE 'spiffe://%';
