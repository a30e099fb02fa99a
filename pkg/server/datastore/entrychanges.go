package datastore

// DefaultEntryChangesKept is how many of the latest entries revisions the
// entry change log keeps when a store's configuration does not say: a
// server whose in-memory entries are further behind reads every entry
// again. At the create rate of one server on SQLite (about a thousand
// entries a second) it is minutes of writes; each kept change is one small
// row.
const DefaultEntryChangesKept = 100_000

// EntryChanges is what Store.EntryChangesSince reports.
type EntryChanges struct {
	// Revision is the entries revision the changes reach up to (the
	// current one when they were read).
	Revision int64
	// IDs are the entries changed after the revision asked for, up to
	// Revision, each once, sorted. A deleted entry's ID is among them; it
	// is absent from Entries.
	IDs []string
	// Complete reports that IDs are every change: false when the log was
	// pruned past the revision asked for, does not reach back to it (a
	// database written before the log existed), or the revision is
	// negative or ahead of the store.
	Complete bool
	// EntriesRead reports that Entries holds the changed entries: the
	// changes are complete and name no more entries than the caller's
	// maxEntries.
	EntriesRead bool
	// Entries are, when EntriesRead, the stored entries among IDs at
	// Revision (read in the same snapshot as IDs), ordered by ID.
	Entries []*Entry
}
