-- 0006: agents_revision and agent_changes, the counter every agent write
-- advances and the log of which agents each revision changed, written in
-- the write's transaction, so that servers keep agent records in memory
-- and re-read only the agents another server changed
-- (AgentChangesSince). changes_floor is the revision at and below which
-- the log is incomplete (pruned).
CREATE TABLE agents_revision (
	id            INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	revision      BIGINT  NOT NULL,
	changes_floor BIGINT  NOT NULL
);
INSERT INTO agents_revision (id, revision, changes_floor) VALUES (1, 0, 0);

CREATE TABLE agent_changes (
	revision BIGINT NOT NULL,
	agent_id TEXT   NOT NULL,
	PRIMARY KEY (revision, agent_id)
);
