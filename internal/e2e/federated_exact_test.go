package e2e_test

import (
	"os"
	"slices"
	"testing"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/internal/testenv"
)

// TestWorkloadAPIServesExactlyFederatedBundles checks, with the real agent
// and go-spiffe clients in three processes told apart by their unix:path
// selectors, that X509SVIDResponse.federated_bundles, FetchX509Bundles and
// FetchJWTBundles carry the bundles of exactly the trust domains the
// caller's matching entries name in federates_with (the union over its
// entries), while the agent holds bundles for all of them: a workload
// whose entries name none gets none, and workloads with different
// federates_with see different sets.
func TestWorkloadAPIServesExactlyFederatedBundles(t *testing.T) {
	srv := startServer(t, testenv.Options{})
	store := srv.OpenStore(t)
	for _, td := range []string{"a.test", "b.test", "c.test", "unnamed.test"} {
		testenv.SetBundle(t, store, testca.NewForTest(t, td).Bundle())
	}
	ag := srv.StartAgent(t, "a", srv.JoinToken(t, "/node"))
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	other, plain := workloadCopy(t, "other-workload"), workloadCopy(t, "plain-workload")
	entry := func(path, exe string, feds ...string) testenv.Entry {
		return testenv.Entry{Path: path, ParentPath: "/node", Selectors: []string{"unix:path:" + exe}, FederatesWith: feds}
	}
	for _, e := range []testenv.Entry{
		// Two entries of this process: its set is the union.
		entry("/self/one", self, "a.test"),
		entry("/self/two", self, "spiffe://b.test"),
		entry("/other", other, "c.test"),
		entry("/plain", plain),
	} {
		srv.CreateEntry(t, e)
	}

	tests := []struct {
		name string
		exe  string
		want []string
	}{
		{"union of the matching entries", self, []string{trustDomain, "a.test", "b.test"}},
		{"different federates_with", other, []string{trustDomain, "c.test"}},
		{"no federates_with", plain, []string{trustDomain}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.exe != self {
				runWorkload(t, tt.exe, ag.Socket, tt.want)
				return
			}
			want := slices.Clone(tt.want)
			if err := checkServedBundles(ag.Socket, want); err != nil {
				t.Error(err)
			}
		})
	}
}
