package sds

import (
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
		if c.view(snap, n, true).memo != c.view(snap, n, true).memo {
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
