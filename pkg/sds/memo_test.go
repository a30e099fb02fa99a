package sds

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

func TestRenderCacheSharesAndForgets(t *testing.T) {
	c := newRenderCache()
	func() { // the snapshot is unreachable once this returns
		td := spiffeid.RequireTrustDomainFromString("example.org")
		snap := &Snapshot{TrustDomain: td, Bundles: x509bundle.NewSet(x509bundle.New(td))}
		n := names{svid: DefaultSVIDName, bundle: DefaultBundleName, all: DefaultAllBundlesName}
		first, second := c.view(snap, n, true), c.view(snap, n, true)
		if first.memo != second.memo {
			t.Fatal("two views of one snapshot do not share their memo")
		}
		if c.view(snap, n, false).memo == c.view(snap, n, true).memo {
			t.Fatal("validator choices share a memo")
		}
		if got := c.size(); got != 2 {
			t.Fatalf("size %d, want 2", got)
		}
	}()

	deadline := time.Now().Add(5 * time.Second)
	for c.size() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("cache still holds %d entries for a collected snapshot", c.size())
		}
		runtime.GC()
		runtime.Gosched()
	}
}

// TestMemoKeepsNoMisses: names a snapshot cannot serve are resolved again
// each time rather than remembered, so a stream of unknown names cannot
// grow the memo (issue 10, finding 3); served names are still shared.
func TestMemoKeepsNoMisses(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	snap := &Snapshot{TrustDomain: td, Bundles: x509bundle.NewSet(x509bundle.New(td))}
	n := names{svid: DefaultSVIDName, bundle: DefaultBundleName, all: DefaultAllBundlesName}
	v := newRenderCache().view(snap, n, true)
	for round := range 10 {
		req := []string{DefaultBundleName}
		for i := range 100 {
			req = append(req, fmt.Sprintf("unknown-%d-%d", round, i))
		}
		served, missing, err := v.render(req)
		if err != nil {
			t.Fatal(err)
		}
		if len(served) != 1 || len(missing) != 100 {
			t.Fatalf("served %d, missing %d; want 1 and 100", len(served), len(missing))
		}
	}
	v.memo.mu.Lock()
	defer v.memo.mu.Unlock()
	if got := len(v.memo.byName); got != 1 {
		t.Fatalf("memo holds %d names after 1,000 unknown ones, want 1 (ROOTCA)", got)
	}
}
