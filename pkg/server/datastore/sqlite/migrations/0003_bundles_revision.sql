-- 0003: bundles_revision, the counter every bundle write advances (as
-- entries_revision does for entries), so that any server process sharing
-- the database sees a foreign or own bundle change and wakes the agents
-- whose held entry syncs wait on it.
CREATE TABLE bundles_revision (
	id       INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	revision BIGINT  NOT NULL
);
INSERT INTO bundles_revision (id, revision) VALUES (1, 0);
