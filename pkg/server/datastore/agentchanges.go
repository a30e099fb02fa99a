package datastore

// AgentChanges is what Store.AgentChangesSince reports.
type AgentChanges struct {
	// Revision is the agents revision the changes reach up to (the
	// current one when they were read).
	Revision int64
	// IDs are the SPIFFE IDs of the agents created, updated or deleted
	// after the revision asked for, up to Revision, each once, sorted.
	IDs []string
	// Complete reports that IDs are every change: false when the log was
	// pruned past the revision asked for, the revision is negative (a
	// caller asking for the current revision alone) or ahead of the store.
	Complete bool
}
