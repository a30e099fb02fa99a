package agent_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"

	"github.com/svidkit/svidkit/internal/testenv"
)

// TestX509SVIDCacheMaxSize runs the real server and the agent on one test
// clock with x509_svid_cache_max_size 4 and 12 workload entries: the agent
// mints 4 SVIDs, not 12; at half life it renews only those 4; a workload of
// an entry without an SVID gets one on its first request, which is then
// evicted again once the workload is gone; a connected workload keeps its
// SVID while other workloads come and go. Signatures are counted with the
// agent's svidkit_agent_x509_svids_minted_total (every SVID the server
// signed for it). Before the cache limit the agent minted 12 at once and
// renewed 12 at every half life.
func TestX509SVIDCacheMaxSize(t *testing.T) {
	const (
		max     = 4
		entries = 12
		ttl     = 10 * time.Minute
	)
	clk := newClock()
	// Every SVID gets ttl, that of any other entry the agent sees (13
	// in all) too: with the default TTL, the cache could hold an SVID not
	// yet at half life when the test moves the clock by ttl/2.
	srv := testenv.StartServer(t, testenv.Options{Clock: clk, SVIDTTL: ttl})
	td := srv.Layout.TrustDomain.Name()
	var pbs []*types.Entry
	for i := range entries {
		e, err := testenv.Entry{Path: fmt.Sprintf("/w%02d", i), Selectors: []string{testenv.UID(20000 + i)}, X509TTL: ttl}.Proto(td)
		if err != nil {
			t.Fatal(err)
		}
		pbs = append(pbs, e)
	}
	ids := make([]string, entries)
	for i, e := range srv.CreateEntries(t, pbs) {
		ids[i] = e.Id
	}
	cfg := realConfig(t, srv, clk, t.TempDir())
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	cfg.X509SVIDCacheMaxSize = max
	h := start(t, clk, cfg)
	h.waitAttested()

	minted := func() float64 { return gathered(t, reg, "svidkit_agent_x509_svids_minted_total") }
	held := func() float64 { return gathered(t, reg, "svidkit_agent_x509_svids") }
	// settled waits until the agent completed two more housekeeping
	// rounds: whatever the cache asked for by then has been minted.
	settled := func() {
		t.Helper()
		rounds := gathered(t, reg, "svidkit_agent_sync_duration_seconds")
		eventually(t, "two housekeeping rounds", func() bool {
			return gathered(t, reg, "svidkit_agent_sync_duration_seconds") >= rounds+2
		})
	}
	eventually(t, "the cache filled", func() bool { return minted() >= max })
	settled()
	if m, n := minted(), held(); m != max || n != max {
		t.Fatalf("minted %v SVIDs, holds %v; want %d and %d of %d entries", m, n, max, max, entries+1)
	}

	t.Run("rotation renews only held SVIDs", func(t *testing.T) {
		clk.Add(ttl / 2)
		eventually(t, "the held SVIDs renewed", func() bool { return minted() >= 2*max })
		settled()
		if m, n := minted(), held(); m != 2*max || n != max {
			t.Fatalf("after half life: minted %v in all, holds %v; want %d and %d", m, n, 2*max, max)
		}
	})

	// request has workload i call once and returns whether the agent had
	// to mint for it (its entry held no SVID). Once the call is over, the
	// agent is back to max SVIDs. Calls are a second apart on the test
	// clock, which orders them for eviction.
	request := func(t *testing.T, i int) bool {
		t.Helper()
		clk.Add(time.Second)
		before := minted()
		sub := h.subscribe(testenv.UID(20000 + i))
		waitUpdate(t, sub, fmt.Sprintf("workload %d's SVID", i), hasIDs(ids[i]))
		sub.Finish()
		mintedNow := minted() > before
		settled()
		if n := held(); n != max {
			t.Fatalf("holds %v SVIDs after workload %d's call, want %d", n, i, max)
		}
		return mintedNow
	}
	t.Run("every workload gets its SVID, held or not", func(t *testing.T) {
		cold := 0
		for i := range entries {
			if request(t, i) {
				cold++
			}
		}
		if cold < entries-max {
			t.Fatalf("%d workloads waited for a mint, want at least %d", cold, entries-max)
		}
	})
	// Workloads 8 to 11 called last: the others' SVIDs were evicted.
	t.Run("an evicted entry's workload gets a new SVID on its next request", func(t *testing.T) {
		for i := range entries - max {
			if !request(t, i) {
				t.Fatalf("workload %d got an SVID without a mint: its SVID was not evicted", i)
			}
		}
	})

	// Workloads 4 to 7 called last; keeper's SVID was evicted. It stays
	// connected while the others come and go.
	keeper := entries - max
	keepSub := h.subscribe(testenv.UID(20000 + keeper))
	first := serialOf(waitUpdate(t, keepSub, "the connected workload's SVID", hasIDs(ids[keeper])), ids[keeper])
	t.Run("a connected workload's SVID is never evicted", func(t *testing.T) {
		for i := range entries {
			if i == keeper {
				continue
			}
			clk.Add(time.Second)
			sub := h.subscribe(testenv.UID(20000 + i))
			waitUpdate(t, sub, fmt.Sprintf("workload %d's SVID", i), hasIDs(ids[i]))
			sub.Finish()
			settled()
			if n := held(); n > max+1 {
				t.Fatalf("holds %v SVIDs with one connected workload, want at most %d", n, max+1)
			}
		}
		select {
		case u := <-keepSub.Updates():
			if s := serialOf(u, ids[keeper]); s == nil || s.Cmp(first) != 0 {
				t.Fatalf("the connected workload's SVID changed to %v (was %v)", s, first)
			}
		default:
		}
		before := minted()
		sub := h.subscribe(testenv.UID(20000 + keeper))
		select {
		case u := <-sub.Updates():
			if s := serialOf(u, ids[keeper]); s == nil || s.Cmp(first) != 0 {
				t.Fatalf("a second request got SVID %v, want the held %v", s, first)
			}
		default:
			t.Fatal("a second request of the connected workload waits for a mint: its SVID was evicted")
		}
		if m := minted(); m != before {
			t.Fatalf("minted %v SVIDs for a held one", m-before)
		}
	})
}
