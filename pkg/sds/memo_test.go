package sds

import (
	"fmt"
	"testing"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// TestSnapshotMemoShared: every view of one snapshot with the same names
// and validator choice shares one memo, so streams serving the snapshot
// render each secret once; anything a rendering depends on (validator
// choice, special names, the snapshot) gets a memo of its own.
func TestSnapshotMemoShared(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	newSnap := func() *Snapshot {
		return &Snapshot{TrustDomain: td, Bundles: x509bundle.NewSet(x509bundle.New(td))}
	}
	snap, other := newSnap(), newSnap()
	n := names{svid: DefaultSVIDName, bundle: DefaultBundleName, all: DefaultAllBundlesName}
	renamed := names{svid: DefaultSVIDName, bundle: "spiffe://example.org", all: DefaultAllBundlesName}

	shared1, shared2 := snap.view(n, true), snap.view(n, true)
	if shared1.memo != shared2.memo {
		t.Fatal("two views of one snapshot do not share their memo")
	}
	for _, tc := range []struct {
		name string
		v    view
	}{
		{"validator choice", snap.view(n, false)},
		{"special names", snap.view(renamed, true)},
		{"snapshot", other.view(n, true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.v.memo == snap.view(n, true).memo {
				t.Fatalf("views differing in %s share a memo", tc.name)
			}
		})
	}

	v := snap.view(n, true)
	first, _, err := v.render([]string{DefaultBundleName})
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := snap.view(n, true).render([]string{DefaultBundleName})
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || len(again) != 1 || first[0] != again[0] {
		t.Fatalf("a second view rendered %v afresh instead of sharing %v", again, first)
	}
}

// TestMemoKeepsNoMisses: names a snapshot cannot serve are resolved again
// each time rather than remembered, so a stream of unknown names cannot
// grow the memo (issue 10, finding 3); served names are still shared.
func TestMemoKeepsNoMisses(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	snap := &Snapshot{TrustDomain: td, Bundles: x509bundle.NewSet(x509bundle.New(td))}
	n := names{svid: DefaultSVIDName, bundle: DefaultBundleName, all: DefaultAllBundlesName}
	v := snap.view(n, true)
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
