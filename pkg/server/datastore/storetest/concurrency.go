package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// concurrencyTests are the races between servers sharing one database.
// Each gets two handles, a and b, on one database (Run passes the same
// store twice; RunShared two stores, as two server processes would have);
// worker i of a race uses handle i%2.
var concurrencyTests = []sharedTest{
	{"BundleUpdatesAppend", testConcurrentBundleUpdates},
	{"BanRacesReattest", testConcurrentBanReattest},
	{"UniqueCreates", testConcurrentUniqueCreates},
	{"JoinTokenConsumedOnce", testConcurrentJoinToken},
	{"JoinTokenAttestsOnce", testConcurrentAttestJoinToken},
	{"EntryCreatesBumpRevision", testConcurrentEntryRevision},
	{"EntryChangesFollowed", func(t *testing.T, a, b datastore.Store) { testConcurrentChanges(t, a, b, entryLog) }},
	{"AgentChangesFollowed", func(t *testing.T, a, b datastore.Store) { testConcurrentChanges(t, a, b, agentLog) }},
}

// sharedTest is a case run on two handles of one database.
type sharedTest struct {
	name string
	fn   func(t *testing.T, a, b datastore.Store)
}

// RunShared runs the concurrency cases with two handles on one database:
// open returns two stores opened separately on one new, empty database
// and arranges for both to be closed.
func RunShared(t *testing.T, open func(t *testing.T) (a, b datastore.Store)) {
	for _, tc := range concurrencyTests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := open(t)
			tc.fn(t, a, b)
		})
	}
}

// race runs fn(i, store) for i in [0, n) at once, worker i on a or b by
// parity, and returns their errors by index.
func race(a, b datastore.Store, n int, fn func(i int, s datastore.Store) error) []error {
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			<-start
			errs[i] = fn(i, s)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// testConcurrentBundleUpdates: servers appending their authorities to the
// one bundle at once through UpdateBundle lose none of them, the first
// appender included (no bundle stored before), and every change advances
// the bundles revision.
func testConcurrentBundleUpdates(t *testing.T, a, b datastore.Store) {
	ctx := t.Context()
	const n = 16
	rev0, err := a.BundlesRevision(ctx)
	must(t, "BundlesRevision", err)
	errs := race(a, b, n, func(i int, s datastore.Store) error {
		_, err := s.UpdateBundle(ctx, "example.org", func(cur *datastore.Bundle) (*datastore.Bundle, error) {
			var data []byte
			if cur != nil {
				data = bytes.Clone(cur.Data)
			}
			data = append(data, fmt.Sprintf("authority-%d\n", i)...)
			return &datastore.Bundle{TrustDomain: "example.org", Data: data}, nil
		})
		return err
	})
	for i, err := range errs {
		must(t, fmt.Sprintf("UpdateBundle by writer %d", i), err)
	}
	got, err := b.GetBundle(ctx, "example.org")
	must(t, "GetBundle", err)
	for i := range n {
		if !bytes.Contains(got.Data, fmt.Appendf(nil, "authority-%d\n", i)) {
			t.Errorf("authority of writer %d lost; bundle:\n%s", i, got.Data)
		}
	}
	if lines := bytes.Count(got.Data, []byte("\n")); lines != n {
		t.Errorf("bundle holds %d authorities, want %d:\n%s", lines, n, got.Data)
	}
	rev, err := b.BundlesRevision(ctx)
	must(t, "BundlesRevision", err)
	if rev-rev0 < n {
		t.Errorf("BundlesRevision advanced by %d over %d bundle changes, want at least %d", rev-rev0, n, n)
	}
}

// testConcurrentBanReattest: a ban (UpdateAgent with Banned) racing a
// re-attestation through another server always stands: the
// re-attestation either commits first, and the ban follows, or fails with
// ErrBanned.
func testConcurrentBanReattest(t *testing.T, a, b datastore.Store) {
	ctx := t.Context()
	const agents = 20
	for i := range agents {
		id := fmt.Sprintf("spiffe://example.org/spire/agent/x/%d", i)
		_, err := a.CreateAgent(ctx, &datastore.Agent{SPIFFEID: id, AttestationType: "x", SerialNumber: "1", CanReattest: true, ExpiresAt: time.Now().Add(time.Hour)})
		must(t, "CreateAgent", err)
		errs := race(a, b, 2, func(w int, s datastore.Store) error {
			if w == 0 {
				_, err := s.UpdateAgent(ctx, &datastore.Agent{SPIFFEID: id, AttestationType: "x", SerialNumber: "1", Banned: true, CanReattest: true})
				return err
			}
			_, err := s.ReattestAgent(ctx, &datastore.Agent{SPIFFEID: id, AttestationType: "x", SerialNumber: "2", CanReattest: true, ExpiresAt: time.Now().Add(time.Hour)})
			if errors.Is(err, datastore.ErrBanned) {
				return nil
			}
			return err
		})
		must(t, "ban", errs[0])
		must(t, "re-attest", errs[1])
		got, err := b.GetAgent(ctx, id)
		must(t, "GetAgent", err)
		if !got.Banned {
			t.Fatalf("agent %d: the ban was lost to a racing re-attestation: %+v", i, got)
		}
	}
}

// testConcurrentUniqueCreates: of racing creates of one record through two
// servers, exactly one wins and the others get ErrAlreadyExists, for
// entries (same identity; same ID), agents, join tokens, bundles and
// federation relationships.
func testConcurrentUniqueCreates(t *testing.T, a, b datastore.Store) {
	const n = 8
	exp := time.Now().Add(time.Hour)
	cases := []struct {
		name   string
		create func(i int, s datastore.Store) error
	}{
		{"entry identity", func(i int, s datastore.Store) error {
			_, err := s.CreateEntry(t.Context(), &datastore.Entry{SPIFFEID: "spiffe://example.org/w", ParentID: "spiffe://example.org/a", Selectors: sel(t, "unix:uid:1")})
			return err
		}},
		{"entry ID", func(i int, s datastore.Store) error {
			_, err := s.CreateEntry(t.Context(), &datastore.Entry{ID: "same-id", SPIFFEID: fmt.Sprintf("spiffe://example.org/w%d", i), ParentID: "spiffe://example.org/a", Selectors: sel(t, "unix:uid:1")})
			return err
		}},
		{"agent", func(i int, s datastore.Store) error {
			_, err := s.CreateAgent(t.Context(), &datastore.Agent{SPIFFEID: "spiffe://example.org/spire/agent/x/1", AttestationType: "x", SerialNumber: fmt.Sprint(i)})
			return err
		}},
		{"join token", func(i int, s datastore.Store) error {
			return s.CreateJoinToken(t.Context(), &datastore.JoinToken{Token: "tok", ExpiresAt: exp})
		}},
		{"bundle", func(i int, s datastore.Store) error {
			return s.CreateBundle(t.Context(), &datastore.Bundle{TrustDomain: "other.org", Data: fmt.Appendf(nil, `{"n":%d}`, i)})
		}},
		{"federation relationship", func(i int, s datastore.Store) error {
			_, err := s.CreateFederationRelationship(t.Context(), &datastore.FederationRelationship{
				TrustDomain: "fed.org", BundleEndpointURL: fmt.Sprintf("https://fed.org/%d", i), BundleEndpointProfile: datastore.ProfileHTTPSWeb,
			})
			return err
		}},
	}
	for _, c := range cases {
		var ok, exists int
		for i, err := range race(a, b, n, c.create) {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, datastore.ErrAlreadyExists):
				exists++
			default:
				t.Errorf("%s: create %d: unexpected error %v", c.name, i, err)
			}
		}
		if ok != 1 || exists != n-1 {
			t.Errorf("%s: %d creates succeeded and %d found it existing, want 1 and %d", c.name, ok, exists, n-1)
		}
	}
	if got, err := a.CountEntries(t.Context()); err != nil || got != 2 {
		t.Errorf("CountEntries = %d, %v; want 2", got, err)
	}
}

// testConcurrentJoinToken: a join token consumed through two servers at
// once is handed out exactly once.
func testConcurrentJoinToken(t *testing.T, a, b datastore.Store) {
	ctx := t.Context()
	now := time.Now()
	const tokens, n = 10, 6
	for k := range tokens {
		tok := fmt.Sprintf("tok-%d", k)
		must(t, "CreateJoinToken", a.CreateJoinToken(ctx, &datastore.JoinToken{Token: tok, ExpiresAt: now.Add(time.Hour)}))
		var ok int
		for i, err := range race(a, b, n, func(_ int, s datastore.Store) error {
			_, err := s.ConsumeJoinToken(ctx, tok, now)
			return err
		}) {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, datastore.ErrNotFound):
				t.Errorf("token %d: consume %d: unexpected error %v", k, i, err)
			}
		}
		if ok != 1 {
			t.Errorf("token %d consumed %d times by %d racing callers, want once", k, ok, n)
		}
	}
}

// testConcurrentEntryRevision: every one of racing entry creates through
// two servers advances EntriesRevision; no bump is lost.
func testConcurrentEntryRevision(t *testing.T, a, b datastore.Store) {
	ctx := t.Context()
	const n = 24
	rev0, err := a.EntriesRevision(ctx)
	must(t, "EntriesRevision", err)
	for i, err := range race(a, b, n, func(i int, s datastore.Store) error {
		_, err := s.CreateEntry(ctx, &datastore.Entry{SPIFFEID: fmt.Sprintf("spiffe://example.org/w%d", i), ParentID: "spiffe://example.org/a", Selectors: sel(t, "unix:uid:1")})
		return err
	}) {
		must(t, fmt.Sprintf("CreateEntry %d", i), err)
	}
	rev, err := b.EntriesRevision(ctx)
	must(t, "EntriesRevision", err)
	if rev-rev0 < n {
		t.Errorf("EntriesRevision advanced by %d over %d concurrent creates, want at least %d", rev-rev0, n, n)
	}
}
