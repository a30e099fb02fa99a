package storetest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// changeLog describes one of a store's change logs (entries, agents) to
// the cases every log passes (changes.go): how to write one record, how to
// read the log, which IDs it names.
type changeLog struct {
	// name names the log in subtests and failures.
	name string
	// id is the ID the log names for the record written under name.
	id func(name string) string
	// create, update and remove write the record named name: a new one, a
	// change to it, its deletion.
	create, update, remove func(ctx context.Context, s datastore.Store, name string) error
	// since reads the changes after revision since.
	since func(ctx context.Context, s datastore.Store, since int64) (logRead, error)
	// revision reads the current revision, another way than since where
	// the store has one.
	revision func(ctx context.Context, s datastore.Store) (int64, error)
	// writes seeds s and returns the log's other kinds of writes.
	writes func(ctx context.Context, s datastore.Store) ([]logWrite, error)
	// refusals seeds s, in which the record named refusedName exists, and
	// returns the log's other kinds of refused writes.
	refusals func(ctx context.Context, s datastore.Store) ([]refusedWrite, error)
	// raceWrite is worker i's writes of the record named name in
	// testConcurrentChanges.
	raceWrite func(ctx context.Context, s datastore.Store, name string, i int) error
	// readsRecords reports that since also reads the changed records
	// (logRead.records).
	readsRecords bool
}

// logRead is what changeLog.since reads.
type logRead struct {
	revision int64
	ids      []string
	complete bool
	// records are the IDs of the changed records read with the changes,
	// when the log reads them (changeLog.readsRecords).
	records []string
}

// logWrite is one write and the records (by name) it changes.
type logWrite struct {
	name  string
	write func() error
	names []string
}

// refusedWrite is one write the store refuses with want.
type refusedWrite struct {
	name  string
	write func() error
	want  error
}

// refusedName names the record that exists when refused writes run.
const refusedName = "taken"

// changeLogs are the logs every store keeps.
var changeLogs = []changeLog{entryLog, agentLog}

// entryLog is the entry change log (EntryChangesSince), read with the
// changed entries: every case checks them against the IDs.
var entryLog = changeLog{
	name: "entry",
	id:   func(name string) string { return name },
	create: func(ctx context.Context, s datastore.Store, name string) error {
		_, err := s.CreateEntry(ctx, changeEntry(name))
		return err
	},
	update: func(ctx context.Context, s datastore.Store, name string) error {
		e := changeEntry(name)
		e.Hint = "changed"
		_, err := s.UpdateEntry(ctx, e)
		return err
	},
	remove: func(ctx context.Context, s datastore.Store, name string) error {
		_, err := s.DeleteEntry(ctx, name)
		return err
	},
	since: func(ctx context.Context, s datastore.Store, since int64) (logRead, error) {
		ch, err := s.EntryChangesSince(ctx, since, math.MaxInt32)
		if err != nil {
			return logRead{}, err
		}
		read := logRead{revision: ch.Revision, ids: ch.IDs, complete: ch.Complete, records: entryIDs(ch.Entries)}
		if ch.EntriesRead != ch.Complete {
			return read, fmt.Errorf("EntryChangesSince(%d) = %+v: entries read %v with the changes complete %v", since, ch, ch.EntriesRead, ch.Complete)
		}
		for _, id := range read.records {
			if _, found := slices.BinarySearch(ch.IDs, id); !found {
				return read, fmt.Errorf("EntryChangesSince(%d) = %+v: entry %s read but not among the changes", since, ch, id)
			}
		}
		return read, nil
	},
	revision: func(ctx context.Context, s datastore.Store) (int64, error) { return s.EntriesRevision(ctx) },
	writes:   entryBundleWrites,
	refusals: func(context.Context, datastore.Store) ([]refusedWrite, error) { return nil, nil },
	raceWrite: func(ctx context.Context, s datastore.Store, name string, _ int) error {
		_, err := s.CreateEntry(ctx, changeEntry(name))
		return err
	},
	readsRecords: true,
}

// changeEntry is a small entry with the given ID, optionally federating.
func changeEntry(id string, federatesWith ...string) *datastore.Entry {
	return &datastore.Entry{
		ID:            id,
		SPIFFEID:      "spiffe://example.org/" + id,
		ParentID:      "spiffe://example.org/spire/agent/x",
		FederatesWith: federatesWith,
	}
}

// entryBundleWrites are the entry changes a bundle delete makes: entries
// dissociated from the trust domain or deleted with it.
func entryBundleWrites(ctx context.Context, s datastore.Store) ([]logWrite, error) {
	for _, td := range []string{"dis.example", "del.example"} {
		if err := s.SetBundle(ctx, &datastore.Bundle{TrustDomain: td, Data: []byte(`{"keys":[]}`)}); err != nil {
			return nil, err
		}
	}
	for _, e := range []*datastore.Entry{
		changeEntry("f1", "dis.example"), changeEntry("f2", "dis.example"),
		changeEntry("g1", "del.example"), changeEntry("g2", "del.example"),
	} {
		if _, err := s.CreateEntry(ctx, e); err != nil {
			return nil, err
		}
	}
	return []logWrite{
		{"bundle delete dissociating", func() error {
			return s.DeleteBundle(ctx, "dis.example", datastore.DeleteDissociate)
		}, []string{"f1", "f2"}},
		{"bundle delete deleting entries", func() error {
			return s.DeleteBundle(ctx, "del.example", datastore.DeleteEntries)
		}, []string{"g1", "g2"}},
	}, nil
}

// agentLog is the agent change log (AgentChangesSince).
var agentLog = changeLog{
	name: "agent",
	id:   func(name string) string { return changeAgent(name).SPIFFEID },
	create: func(ctx context.Context, s datastore.Store, name string) error {
		_, err := s.CreateAgent(ctx, changeAgent(name))
		return err
	},
	update: func(ctx context.Context, s datastore.Store, name string) error {
		a := changeAgent(name)
		a.SerialNumber = "2"
		_, err := s.UpdateAgent(ctx, a)
		return err
	},
	remove: func(ctx context.Context, s datastore.Store, name string) error {
		return s.DeleteAgent(ctx, changeAgent(name).SPIFFEID)
	},
	since: func(ctx context.Context, s datastore.Store, since int64) (logRead, error) {
		ch, err := s.AgentChangesSince(ctx, since)
		return logRead{revision: ch.Revision, ids: ch.IDs, complete: ch.Complete}, err
	},
	// As a caller that knows no revision asks for it.
	revision: func(ctx context.Context, s datastore.Store) (int64, error) {
		ch, err := s.AgentChangesSince(ctx, -1)
		return ch.Revision, err
	},
	writes:   agentAttestWrites,
	refusals: agentRefusals,
	raceWrite: func(ctx context.Context, s datastore.Store, name string, i int) error {
		a := changeAgent(name)
		if _, err := s.CreateAgent(ctx, a); err != nil {
			return err
		}
		a.Banned = i%2 == 0
		a.SerialNumber = "2"
		_, err := s.UpdateAgent(ctx, a)
		return err
	},
}

// changeAgent is a small agent with the given name.
func changeAgent(name string) *datastore.Agent {
	return &datastore.Agent{
		SPIFFEID:        "spiffe://example.org/spire/agent/x/" + name,
		AttestationType: "x",
		SerialNumber:    "1",
		ExpiresAt:       time.Now().Add(time.Hour),
	}
}

// agentAttestWrites are the agent writes beyond create, update and
// delete: a ban, a re-attestation, AttestAgent of a new and of an existing
// agent.
func agentAttestWrites(ctx context.Context, s datastore.Store) ([]logWrite, error) {
	for _, n := range []string{"b", "r", "ar"} {
		if _, err := s.CreateAgent(ctx, changeAgent(n)); err != nil {
			return nil, err
		}
	}
	return []logWrite{
		{"ban", func() error {
			a := changeAgent("b")
			a.Banned = true
			_, err := s.UpdateAgent(ctx, a)
			return err
		}, []string{"b"}},
		{"re-attest", func() error {
			a := changeAgent("r")
			a.SerialNumber = "2"
			_, err := s.ReattestAgent(ctx, a)
			return err
		}, []string{"r"}},
		{"attest new", func() error { _, err := s.AttestAgent(ctx, changeAgent("an"), "", time.Now()); return err }, []string{"an"}},
		{"attest existing", func() error {
			a := changeAgent("ar")
			a.SerialNumber = "3"
			_, err := s.AttestAgent(ctx, a, "", time.Now())
			return err
		}, []string{"ar"}},
	}, nil
}

// agentRefusals bans the agent refusedName and returns the attestations
// the store refuses: of the banned agent, and with an unknown join token.
func agentRefusals(ctx context.Context, s datastore.Store) ([]refusedWrite, error) {
	banned := changeAgent(refusedName)
	banned.Banned = true
	if _, err := s.UpdateAgent(ctx, banned); err != nil {
		return nil, err
	}
	return []refusedWrite{
		{"ReattestAgent banned", func() error { _, err := s.ReattestAgent(ctx, changeAgent(refusedName)); return err }, datastore.ErrBanned},
		{"AttestAgent banned", func() error {
			_, err := s.AttestAgent(ctx, changeAgent(refusedName), "", time.Now())
			return err
		}, datastore.ErrBanned},
		{"AttestAgent with an unknown join token", func() error {
			_, err := s.AttestAgent(ctx, changeAgent("new"), "no-such-token", time.Now())
			return err
		}, datastore.ErrNotFound},
	}, nil
}
