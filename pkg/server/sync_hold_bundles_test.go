package server_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// Bundle metadata of the long-poll extension, as an agent spells it.
const (
	bundlesHeader  = "svidkit-bundles-digest"
	waitBundlesKey = "svidkit-wait-bundles-digest"
)

// setForeignBundle stores a fresh bundle of the trust domain td straight
// into the store, as the federation fetcher, the bundle API or another
// server process would: the server under test learns of it from the
// store only.
func setForeignBundle(t *testing.T, e *env, td string) {
	t.Helper()
	data, err := testca.NewForTest(t, td).Bundle().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetBundle(context.Background(), &datastore.Bundle{TrustDomain: td, Data: data}); err != nil {
		t.Fatal(err)
	}
}

// holdOnBoth starts a sync held on both digests of r with the given wait
// in milliseconds.
func holdOnBoth(t *testing.T, conn *grpc.ClientConn, r syncResult, waitMS string) <-chan syncResult {
	t.Helper()
	if r.bundles == "" {
		t.Fatalf("sync: no %s header", bundlesHeader)
	}
	return startSync(t, conn, waitDigestKey, r.digest, waitBundlesKey, r.bundles, waitTimeoutKey, waitMS)
}

// TestHeldSyncEndsOnBundleChange checks that a sync held on the bundles
// digest ends when a bundle the agent fetches changes, whoever wrote it,
// and only then.
func TestHeldSyncEndsOnBundleChange(t *testing.T) {
	const foreign, unrelated = "foreign.test", "unrelated.test"
	tests := []struct {
		name   string
		change func(t *testing.T, e *env)
		// ends says the hold must end promptly with a new bundles
		// digest; otherwise it must run to its wait with the old one.
		ends bool
		// entries says the change also changes the agent's entries.
		entries bool
	}{
		{name: "federated bundle replaced", ends: true, change: func(t *testing.T, e *env) {
			setForeignBundle(t, e, foreign)
		}},
		{name: "federated bundle replaced again", ends: true, change: func(t *testing.T, e *env) {
			setForeignBundle(t, e, foreign)
		}},
		{name: "own bundle rotated", ends: true, change: func(t *testing.T, e *env) {
			if _, err := e.ca.RotateJWTKey(); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "unrelated trust domain's bundle", ends: false, change: func(t *testing.T, e *env) {
			setForeignBundle(t, e, unrelated)
		}},
		// A bundle in use can only go with its entries changed.
		{name: "federated bundle deleted, entries dissociated", ends: true, entries: true, change: func(t *testing.T, e *env) {
			if err := e.store.DeleteBundle(context.Background(), foreign, datastore.DeleteDissociate); err != nil {
				t.Fatal(err)
			}
		}},
	}
	e := newEnv(t)
	a := e.mustAttest("bundles-a")
	conn := e.tcpConn(a)
	// An entry may federate only with a trust domain whose bundle exists.
	setForeignBundle(t, e, foreign)
	en := entryFor(a, "/wl/federating")
	en.FederatesWith = []string{foreign}
	e.createEntries(en)
	prev := mustSync(t, conn)
	timeouts := 0.0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, within := "30000", heldPromptly
			if !tt.ends {
				wait, within = "500", 5*time.Second
			}
			ch := holdOnBoth(t, conn, prev, wait)
			waitHeld(t, e, 1)
			tt.change(t, e)
			r := await(t, ch, within, "held sync")
			if r.err != nil {
				t.Fatalf("held sync: %v", r.err)
			}
			if changed := r.digest != prev.digest; changed != tt.entries {
				t.Errorf("entries digest %q, was %q; want a change: %v", r.digest, prev.digest, tt.entries)
			}
			if changed := r.bundles != prev.bundles; changed != tt.ends {
				t.Errorf("bundles digest %q, was %q; want a change: %v", r.bundles, prev.bundles, tt.ends)
			}
			if !tt.ends {
				timeouts++
				if got := counterValue(t, e, "svidkit_server_entry_sync_holds_total", "timeout"); got != timeouts {
					t.Errorf("holds{result=timeout} = %v, want %v", got, timeouts)
				}
			}
			if r.bundles != "" {
				prev = r
			}
			waitHeld(t, e, 0)
		})
	}
}

// TestHeldSyncWithoutBundlesDigest checks that an agent that does not send
// a bundles digest (older svidkit agents) is held on its entries only.
func TestHeldSyncWithoutBundlesDigest(t *testing.T) {
	e := newEnv(t)
	a := e.mustAttest("entries-only")
	conn := e.tcpConn(a)
	setForeignBundle(t, e, "foreign.test")
	en := entryFor(a, "/wl/federating")
	en.FederatesWith = []string{"foreign.test"}
	e.createEntries(en)
	first := mustSync(t, conn)
	ch := startSync(t, conn, waitDigestKey, first.digest, waitTimeoutKey, "500")
	waitHeld(t, e, 1)
	setForeignBundle(t, e, "foreign.test")
	r := await(t, ch, 5*time.Second, "held sync")
	if r.err != nil || r.digest != first.digest {
		t.Fatalf("held sync: digest %q (was %q), %v", r.digest, first.digest, r.err)
	}
	if got := counterValue(t, e, "svidkit_server_entry_sync_holds_total", "timeout"); got != 1 {
		t.Errorf("holds{result=timeout} = %v, want 1: a bundle change ended a hold that did not wait on bundles", got)
	}
}
