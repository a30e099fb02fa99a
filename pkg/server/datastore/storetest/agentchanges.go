package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

var agentChangeTests = []test{
	{"Recorded", testAgentChangesRecorded},
	{"Accumulate", testAgentChangesAccumulate},
	{"RevisionAlone", testAgentChangesRevisionAlone},
	{"AheadOfStore", testAgentChangesAhead},
	{"FailedWriteRecordsNothing", testAgentChangesFailedWrite},
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

// agentRevision returns the store's agents revision, read as a caller
// that knows none asks for it.
func agentRevision(t *testing.T, s datastore.Store) int64 {
	t.Helper()
	ch, err := s.AgentChangesSince(t.Context(), -1)
	must(t, "AgentChangesSince(-1)", err)
	return ch.Revision
}

// wantAgentChanges fails the test unless AgentChangesSince(since) is
// complete, reaches the current revision and names exactly the agents.
func wantAgentChanges(t *testing.T, s datastore.Store, what string, since int64, names ...string) {
	t.Helper()
	ch, err := s.AgentChangesSince(t.Context(), since)
	must(t, what+": AgentChangesSince", err)
	var ids []string
	for _, n := range names {
		ids = append(ids, changeAgent(n).SPIFFEID)
	}
	if rev := agentRevision(t, s); !ch.Complete || ch.Revision != rev || !slices.Equal(ch.IDs, ids) {
		t.Errorf("%s: AgentChangesSince(%d) = %+v, want complete, revision %d, IDs %q", what, since, ch, rev, ids)
	}
}

// testAgentChangesRecorded: every kind of agent write (creation, update
// as a ban or a renewal, re-attestation, deletion, AttestAgent of a new
// or an existing agent) is in the
// change log at a revision after the one before the write, alone.
func testAgentChangesRecorded(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	for _, n := range []string{"u", "r", "d", "ar"} {
		_, err := s.CreateAgent(ctx, changeAgent(n))
		must(t, "CreateAgent "+n, err)
	}
	cases := []struct {
		name  string
		write func() error
		agent string
	}{
		{"create", func() error { _, err := s.CreateAgent(ctx, changeAgent("c")); return err }, "c"},
		{"update", func() error {
			a := changeAgent("u")
			a.Banned = true
			_, err := s.UpdateAgent(ctx, a)
			return err
		}, "u"},
		{"re-attest", func() error {
			a := changeAgent("r")
			a.SerialNumber = "2"
			_, err := s.ReattestAgent(ctx, a)
			return err
		}, "r"},
		{"delete", func() error { return s.DeleteAgent(ctx, changeAgent("d").SPIFFEID) }, "d"},
		{"attest new", func() error { _, err := s.AttestAgent(ctx, changeAgent("an"), "", time.Now()); return err }, "an"},
		{"attest existing", func() error {
			a := changeAgent("ar")
			a.SerialNumber = "3"
			_, err := s.AttestAgent(ctx, a, "", time.Now())
			return err
		}, "ar"},
	}
	for _, tc := range cases {
		rev := agentRevision(t, s)
		must(t, tc.name, tc.write())
		wantAgentChanges(t, s, tc.name, rev, tc.agent)
	}
}

// testAgentChangesAccumulate: changes since an older revision are the
// union of the later writes, each agent once, sorted.
func testAgentChangesAccumulate(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	rev := agentRevision(t, s)
	for _, n := range []string{"b", "a", "c"} {
		_, err := s.CreateAgent(ctx, changeAgent(n))
		must(t, "CreateAgent "+n, err)
	}
	a := changeAgent("b")
	a.SerialNumber = "2"
	_, err := s.UpdateAgent(ctx, a)
	must(t, "UpdateAgent", err)
	must(t, "DeleteAgent", s.DeleteAgent(ctx, changeAgent("c").SPIFFEID))
	wantAgentChanges(t, s, "after five writes", rev, "a", "b", "c")
	wantAgentChanges(t, s, "after the update", rev+4, "c")
	wantAgentChanges(t, s, "at the current revision", rev+5)
}

// testAgentChangesRevisionAlone: a negative revision asks for the current
// revision only, which every write advances.
func testAgentChangesRevisionAlone(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	for i := range 2 {
		before := agentRevision(t, s)
		_, err := s.CreateAgent(ctx, changeAgent(fmt.Sprint(i)))
		must(t, "CreateAgent", err)
		ch, err := s.AgentChangesSince(ctx, -1)
		must(t, "AgentChangesSince(-1)", err)
		if ch.Complete || len(ch.IDs) != 0 || ch.Revision != before+1 {
			t.Errorf("AgentChangesSince(-1) after a write at revision %d = %+v, want incomplete at revision %d without IDs", before, ch, before+1)
		}
	}
}

// testAgentChangesAhead: a revision the store never reached (a server
// that remembers another database's revision) is not complete.
func testAgentChangesAhead(t *testing.T, s datastore.Store) {
	rev := agentRevision(t, s)
	ch, err := s.AgentChangesSince(t.Context(), rev+10)
	must(t, "AgentChangesSince", err)
	if ch.Complete || ch.Revision != rev {
		t.Errorf("AgentChangesSince(%d) = %+v, want incomplete at revision %d", rev+10, ch, rev)
	}
}

// testAgentChangesFailedWrite: a refused write is rolled back with its
// change-log row.
func testAgentChangesFailedWrite(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	banned := changeAgent("banned")
	banned.Banned = true
	_, err := s.CreateAgent(ctx, banned)
	must(t, "CreateAgent", err)
	rev := agentRevision(t, s)
	_, err = s.CreateAgent(ctx, changeAgent("banned"))
	wantErr(t, "CreateAgent twice", err, datastore.ErrAlreadyExists)
	_, err = s.UpdateAgent(ctx, changeAgent("absent"))
	wantErr(t, "UpdateAgent absent", err, datastore.ErrNotFound)
	_, err = s.ReattestAgent(ctx, changeAgent("banned"))
	wantErr(t, "ReattestAgent banned", err, datastore.ErrBanned)
	_, err = s.AttestAgent(ctx, changeAgent("banned"), "", time.Now())
	wantErr(t, "AttestAgent banned", err, datastore.ErrBanned)
	_, err = s.AttestAgent(ctx, changeAgent("new"), "no-such-token", time.Now())
	wantErr(t, "AttestAgent with an unknown join token", err, datastore.ErrNotFound)
	wantErr(t, "DeleteAgent absent", s.DeleteAgent(ctx, changeAgent("absent").SPIFFEID), datastore.ErrNotFound)
	wantAgentChanges(t, s, "after refused writes", rev)
}

// RunAgentChangesPruning checks that the agent change log keeps the latest
// kept revisions and reports older ones incomplete. open must return a
// new, empty store whose logs keep kept revisions.
func RunAgentChangesPruning(t *testing.T, open func(t *testing.T, kept int64) datastore.Store) {
	const kept = 3
	s := open(t, kept)
	ctx := t.Context()
	rev0 := agentRevision(t, s)
	var ids []string
	for i := range 6 {
		a := changeAgent(fmt.Sprint(i))
		_, err := s.CreateAgent(ctx, a)
		must(t, "CreateAgent", err)
		ids = append(ids, a.SPIFFEID)
	}
	rev := rev0 + 6
	for since := rev0; since <= rev; since++ {
		ch, err := s.AgentChangesSince(ctx, since)
		must(t, "AgentChangesSince", err)
		if since < rev-kept {
			if ch.Complete || ch.Revision != rev {
				t.Errorf("AgentChangesSince(%d) = %+v, want incomplete at revision %d: pruned", since, ch, rev)
			}
			continue
		}
		if want := ids[since-rev0:]; !ch.Complete || ch.Revision != rev || !slices.Equal(ch.IDs, want) {
			t.Errorf("AgentChangesSince(%d) = %+v, want complete at revision %d with %q", since, ch, rev, want)
		}
	}
}

// testConcurrentAgentChanges: a reader following the agent change log
// through one server while agents are attested, banned and re-attested
// through two misses none of them: every agent write is seen by every
// server sharing the database.
func testConcurrentAgentChanges(t *testing.T, a, b datastore.Store) {
	ctx := t.Context()
	const n = 24
	last := agentRevision(t, b)
	seen := map[string]int{}
	follow := func() error {
		ch, err := b.AgentChangesSince(ctx, last)
		if err != nil {
			return err
		}
		if !ch.Complete {
			return fmt.Errorf("AgentChangesSince(%d) = %+v: incomplete", last, ch)
		}
		for _, id := range ch.IDs {
			seen[id]++
		}
		last = ch.Revision
		return nil
	}
	done := make(chan struct{})
	followed := make(chan error, 1)
	go func() {
		for {
			select {
			case <-done:
				followed <- follow()
				return
			default:
			}
			if err := follow(); err != nil {
				followed <- err
				return
			}
		}
	}()
	errs := race(a, b, n, func(i int, s datastore.Store) error {
		ag := changeAgent(fmt.Sprintf("w%02d", i))
		if _, err := s.CreateAgent(ctx, ag); err != nil {
			return err
		}
		ag.Banned = i%2 == 0
		ag.SerialNumber = "2"
		_, err := s.UpdateAgent(ctx, ag)
		return err
	})
	close(done)
	must(t, "follow the change log", <-followed)
	for i, err := range errs {
		must(t, fmt.Sprintf("agent writes %d", i), err)
	}
	for i := range n {
		if id := changeAgent(fmt.Sprintf("w%02d", i)).SPIFFEID; seen[id] == 0 {
			t.Errorf("agent %s written concurrently never appeared in the change log followed from revision to revision", id)
		}
	}
}
