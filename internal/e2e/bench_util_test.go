package e2e_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"

	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/agent/cache"
)

// pollUntil calls cond every interval until it reports true, failing the
// benchmark after timeout. It is for states that publish no event (a
// remote process's counters, a file appearing).
func pollUntil(tb testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// otherUIDEntries returns n entries parented to parentPath, each selecting
// a distinct uid that is not this process's, so none match the benchmark.
func otherUIDEntries(parentPath string, n int) []*types.Entry {
	out := make([]*types.Entry, n)
	base := os.Getuid() + 100000
	for i := range out {
		out[i] = &types.Entry{
			SpiffeId:  &types.SPIFFEID{TrustDomain: trustDomain, Path: fmt.Sprintf("/other/%d", i)},
			ParentId:  &types.SPIFFEID{TrustDomain: trustDomain, Path: parentPath},
			Selectors: []*types.Selector{{Type: "unix", Value: fmt.Sprintf("uid:%d", base+i)}},
		}
	}
	return out
}

// waitSynced waits until the in-process agent knows at least n entries and
// holds a current SVID for every one of them (for as many as its
// x509_svid_cache_max_size allows: the callers stay below it).
func waitSynced(tb testing.TB, p *testenv.Agent, n int, timeout time.Duration) {
	tb.Helper()
	c, ok := p.Agent.Manager().(*cache.Cache)
	if !ok {
		tb.Fatalf("agent manager is %T, want *cache.Cache", p.Agent.Manager())
	}
	pollUntil(tb, timeout, 20*time.Millisecond, fmt.Sprintf("the agent to hold SVIDs for %d entries", n), func() bool {
		return len(c.Entries()) >= n && len(c.StaleEntries(time.Now())) == 0
	})
}
