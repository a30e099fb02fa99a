-- 0003: entries.owner, the mark of an in-process writer (the Kubernetes
-- registrar) on the entries it manages, so that it reconciles only its
-- own and never a manual, join-token or other cluster's entry. Existing
-- entries have no owner.
ALTER TABLE entries ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX entries_owner ON entries (owner);
