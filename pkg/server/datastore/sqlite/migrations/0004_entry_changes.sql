-- 0004: entry_changes, the log of which entries each entries revision
-- changed, so that a server brings its in-memory entries up to date by
-- reading only those (EntryChangesSince) instead of every entry.
-- changes_floor is the revision at and below which the log is incomplete:
-- pruned, or older than this migration.
CREATE TABLE entry_changes (
	revision BIGINT NOT NULL,
	entry_id TEXT   NOT NULL,
	PRIMARY KEY (revision, entry_id)
);
ALTER TABLE entries_revision ADD COLUMN changes_floor BIGINT NOT NULL DEFAULT 0;
UPDATE entries_revision SET changes_floor = revision;
