package e2e_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"

	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/agent/cache"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// largeEntryCount maximum-size entries (about 260 KB each) add up to over
// 5 MB, more than gRPC's default 4 MiB message limit.
const largeEntryCount = 20

// largeEntry is an entry under parentPath of the largest size the server
// accepts: datastore.MaxEntrySelectors selectors of
// datastore.MaxSelectorLength bytes. No workload matches it, but the
// agent mints its SVID like any other's.
func largeEntry(parentPath string, i int) *types.Entry {
	sels := make([]*types.Selector, datastore.MaxEntrySelectors)
	for j := range sels {
		prefix := fmt.Sprintf("%d-%d-", i, j)
		sels[j] = &types.Selector{Type: "k8s", Value: prefix + strings.Repeat("v", datastore.MaxSelectorLength-len("k8s:")-len(prefix))}
	}
	return &types.Entry{
		SpiffeId:  &types.SPIFFEID{TrustDomain: trustDomain, Path: fmt.Sprintf("/large/%d", i)},
		ParentId:  &types.SPIFFEID{TrustDomain: trustDomain, Path: parentPath},
		Selectors: sels,
	}
}

// createLargeEntries creates n maximum-size entries under parentPath, one
// request each (a batch of them would exceed the admin API's message
// limit), and returns their IDs.
func createLargeEntries(tb testing.TB, admin *testenv.Admin, parentPath string, n int) []string {
	tb.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = admin.CreateEntries(tb, []*types.Entry{largeEntry(parentPath, i)})[0].Id
	}
	return ids
}

// TestAgentSyncsEntriesOver4MiB reproduces issue 10 finding 6 with a real
// agent: with entries over 4 MiB in total (each within the size limits),
// the agent learns all of them, and later deletions and new entries still
// reach it. Before the fix every sync failed with "received message
// larger than max" and the agent never held any of them.
func TestAgentSyncsEntriesOver4MiB(t *testing.T) {
	e := startServer(t, testenv.Options{})
	ag := e.StartAgent(t, "a", e.JoinToken(t, testenv.NodePath))
	ids := createLargeEntries(t, e.Admin, testenv.NodePath, largeEntryCount)
	// The agent also holds the entry of its join-token alias (/node).
	held := largeEntryCount + 1
	waitSynced(t, ag, held, time.Minute)

	c := ag.Agent.Manager().(*cache.Cache)
	e.DeleteEntry(t, ids[0])
	e.CreateEntry(t, workloadEntry(testenv.NodePath, "/after", 0))
	pollUntil(t, time.Minute, 20*time.Millisecond, "the deletion and the new entry to reach the agent", func() bool {
		entries := c.Entries()
		return len(entries) == held &&
			!slices.ContainsFunc(entries, func(en cache.Entry) bool { return en.ID == ids[0] }) &&
			slices.ContainsFunc(entries, func(en cache.Entry) bool { return en.SPIFFEID.Path() == "/after" })
	})
}

// TestCLIEntryLimits: `entry create` with more selectors than an entry may
// have is refused, naming the limit, and `entry show` lists a set of
// entries larger than one gRPC message. Before the fix the create
// succeeded and the show failed with "received message larger than max".
func TestCLIEntryLimits(t *testing.T) {
	s := startServer(t, testenv.Options{})
	args := []string{"entry", "create", "-parentID", "spiffe://" + trustDomain + testenv.NodePath, "-spiffeID", "spiffe://" + trustDomain + "/too-many"}
	for i := range datastore.MaxEntrySelectors + 1 {
		args = append(args, "-selector", fmt.Sprintf("unix:uid:%d", i))
	}
	code, out, errOut := runServerCLI(s, args...)
	want := fmt.Sprintf("more than the limit of %d", datastore.MaxEntrySelectors)
	if code == 0 || !strings.Contains(errOut, want) {
		t.Fatalf("entry create with %d selectors: exit %d, want non-zero with %q\nstdout: %.300s\nstderr: %.300s",
			datastore.MaxEntrySelectors+1, code, want, out, errOut)
	}

	createLargeEntries(t, s.Admin, testenv.NodePath, largeEntryCount)
	code, out, errOut = runServerCLI(s, "entry", "show")
	if wantOut := fmt.Sprintf("Found %d entries", largeEntryCount); code != 0 || !strings.Contains(out, wantOut) {
		t.Fatalf("entry show: exit %d, want 0 and %q\nstdout: %.300s\nstderr: %.300s", code, wantOut, out, errOut)
	}
}
