package server

import (
	"context"
	"crypto/x509"
	"log/slog"
	"math/big"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"golang.org/x/sys/unix"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// BenchmarkHeldSyncWake measures what one entry write for one agent costs
// a server holding the syncs of 10,000 agents with ten entries each (the
// issue's load profile): the entry is written through the store and the
// cache invalidated, as the entry API does, and the benchmark waits for
// that agent's held sync to return. wake-ms is the wall time from the
// write to the return, write-ms the part of it the store write took;
// cpu-ms/op is the process CPU time (user + system)
// per write, everything included (the write, every held sync it woke, the
// changed agent's next hold). With one broadcast for every change, each
// write re-evaluated all 10,000 holds.
func BenchmarkHeldSyncWake(b *testing.B) {
	const (
		agents   = 10_000
		perAgent = 10
		// targets are the agents the benchmark writes for, in turn; only
		// they need agent records (a hold that ends re-checks its agent).
		targets = 100
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := seededStore(b, agents*perAgent)
	td := spiffeid.RequireTrustDomainFromString("example.org")
	authority, err := testca.New(td, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Config{
		TrustDomain: td, Store: store, Authority: authority,
		BindAddress: "127.0.0.1:0", SocketPath: "unused.sock",
		Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	d := srv.deps
	go func() { _ = d.watchStore(ctx) }()
	go func() { _ = d.cache.reloadWrites(ctx) }()
	s := &entryService{deps: d}

	farFuture := time.Now().Add(24 * time.Hour)
	type held struct {
		agent *datastore.Agent
		ctx   context.Context
		done  chan error
	}
	holds := make([]*held, agents)
	start := func(h *held) {
		set, err := d.authorizedFor(h.ctx, h.agent)
		if err != nil {
			b.Fatal(err)
		}
		w := waitFor{entries: set.digestHex(), timeout: maxSyncWait}
		go func() {
			_, err := s.holdSync(h.ctx, h.agent, w)
			h.done <- err
		}()
	}
	for i := range holds {
		id := spiffeid.RequireFromString(benchCacheEntry(i, agents).ParentID)
		agent := &datastore.Agent{SPIFFEID: id.String(), SerialNumber: "1", ExpiresAt: farFuture}
		if i < targets {
			if _, err := d.cfg.Store.CreateAgent(ctx, agent); err != nil {
				b.Fatalf("CreateAgent: %v", err)
			}
		}
		cert := &x509.Certificate{SerialNumber: big.NewInt(1), NotAfter: farFuture}
		holds[i] = &held{agent: agent, ctx: withCaller(ctx, &caller{agentID: id, cert: cert}), done: make(chan error, 1)}
		start(holds[i])
	}
	// The gauge publishes no event: poll it.
	for heldNow(b, d) < agents {
		time.Sleep(10 * time.Millisecond)
	}

	var wake, write time.Duration
	cpu0 := cpuTime(b)
	for i := 0; b.Loop(); i++ {
		h := holds[i%targets]
		e := benchCacheEntry(agents*perAgent+i, agents)
		e.ParentID = h.agent.SPIFFEID
		t0 := time.Now()
		if _, err := d.cfg.Store.CreateEntry(ctx, e); err != nil {
			b.Fatalf("CreateEntry: %v", err)
		}
		write += time.Since(t0)
		d.cache.invalidate()
		if err := <-h.done; err != nil {
			b.Fatalf("held sync: %v", err)
		}
		wake += time.Since(t0)
		start(h)
	}
	cpu := cpuTime(b) - cpu0
	b.ReportMetric(float64(wake.Microseconds())/1000/float64(b.N), "wake-ms")
	b.ReportMetric(float64(write.Microseconds())/1000/float64(b.N), "write-ms")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// heldNow returns the number of syncs the server holds.
func heldNow(b *testing.B, d *deps) float64 {
	var m dto.Metric
	if err := d.metrics.held.Write(&m); err != nil {
		b.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

// cpuTime returns the CPU time (user + system) the process used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
