package loadgen

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/agent"
	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/selector"
)

// simAgent is one simulated agent: the real agent core and a subscription
// standing in for its workloads, which match all of its entries.
type simAgent struct {
	idx    int
	server int
	id     spiffeid.ID
	core   *agent.Agent
}

// fleet runs the simulated agents and counts what they see.
type fleet struct {
	agents  []*simAgent
	entries int
	start   time.Time

	attested atomic.Int64
	ready    atomic.Int64
	rotated  atomic.Int64
	// failedAgents counts agents whose Run ended with an error (a join
	// token refused after a timed-out attempt); they count towards the
	// "every agent" conditions, so that the run goes on without them.
	failedAgents atomic.Int64
	firstFailure atomic.Pointer[error]
	// received counts the distinct X.509-SVIDs the workloads saw.
	received atomic.Int64
	// lastAttested is when the last agent attested (nanoseconds since
	// start).
	lastAttested atomic.Int64
	lastReady    atomic.Int64
	// allAttested, allReady and allRotated close when every agent that
	// did not fail attested, held all its SVIDs, and rotated each of them
	// once.
	allAttested, allReady, allRotated chan struct{}
	// mu orders the counts with the closing of the channels.
	mu sync.Mutex
}

// workloadSelectors are the selectors of agent workloads: entry j of each
// agent has unix:uid:j, and the stand-in workload matches all of them.
func workloadSelectors(entries int) selector.Set {
	sels := make([]selector.Selector, entries)
	for j := range sels {
		sels[j] = selector.Selector{Type: "unix", Value: "uid:" + strconv.Itoa(j)}
	}
	return selector.NewSet(sels...)
}

// newFleet prepares n agents; agent i attests with token(i) to
// servers[i%len(servers)].
func newFleet(cfg Config, bundle []*x509.Certificate, token func(i int) string) (*fleet, error) {
	f := &fleet{
		entries:     cfg.EntriesPerAgent,
		allAttested: make(chan struct{}),
		allReady:    make(chan struct{}),
		allRotated:  make(chan struct{}),
	}
	quiet := slog.New(slog.DiscardHandler)
	for i := range cfg.Agents {
		srv := i % len(cfg.Servers)
		core, err := agent.New(agent.Config{
			TrustDomain:   cfg.TrustDomain,
			ServerAddress: cfg.Servers[srv].Address,
			TrustBundle:   bundle,
			JoinToken:     token(i),
			DataDir:       filepath.Join(cfg.DataDir, "agents", strconv.Itoa(i)),
			KeyStore:      agent.KeyStoreMemory,
			Log:           quiet,
		})
		if err != nil {
			return nil, fmt.Errorf("agent %d: %w", i, err)
		}
		id, err := spiffeid.FromSegments(cfg.TrustDomain, "spire", "agent", "join_token", token(i))
		if err != nil {
			return nil, fmt.Errorf("agent %d: %w", i, err)
		}
		f.agents = append(f.agents, &simAgent{idx: i, server: srv, id: id, core: core})
	}
	return f, nil
}

// run starts the agents, at most concurrency attesting at once, and
// returns when ctx ends and every agent stopped. An agent whose Run fails
// is reported on f.failed.
func (f *fleet) run(ctx context.Context, concurrency int) {
	f.start = time.Now()
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	sels := workloadSelectors(f.entries)
	for _, a := range f.agents {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := a.core.Run(ctx); err != nil {
				err = fmt.Errorf("agent %d: %w", a.idx, err)
				f.firstFailure.CompareAndSwap(nil, &err)
				f.fail()
			}
		}()
		go func() {
			defer wg.Done()
			f.watch(ctx, a, sels, sem)
		}()
	}
	wg.Wait()
}

// watch waits for a's attestation (then frees its start slot) and follows
// its workload's identities: readiness once all entries have an SVID,
// rotation once each has had a second one.
func (f *fleet) watch(ctx context.Context, a *simAgent, sels selector.Set, slot <-chan struct{}) {
	select {
	case <-a.core.Attested():
		<-slot
	case <-ctx.Done():
		<-slot
		return
	}
	f.mark(&f.attested, &f.lastAttested, f.allAttested)
	sub, err := a.core.Manager().Subscribe(ctx, sels)
	if err != nil {
		return
	}
	defer sub.Finish()
	serials := map[string]string{} // entry ID -> serial of its SVID
	seen := map[string]int{}       // entry ID -> SVIDs seen
	isReady, isRotated := false, false
	for u := range sub.Updates() {
		for _, id := range u.Identities {
			serial := identitySerial(id)
			if serial == "" || serials[id.EntryID] == serial {
				continue
			}
			serials[id.EntryID] = serial
			seen[id.EntryID]++
			f.received.Add(1)
		}
		if !isReady && len(seen) >= f.entries {
			isReady = true
			f.mark(&f.ready, &f.lastReady, f.allReady)
		}
		if !isRotated && len(seen) >= f.entries && allAtLeast(seen, 2) {
			isRotated = true
			f.mark(&f.rotated, nil, f.allRotated)
		}
	}
}

// mark counts one agent reaching a state, records when, and closes all
// once every agent has, or failed.
func (f *fleet) mark(n, last *atomic.Int64, all chan struct{}) {
	if last != nil {
		last.Store(int64(time.Since(f.start)))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n.Add(1)
	f.closeIfDone(n, all)
}

// fail counts one failed agent, which may complete any state.
func (f *fleet) fail() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failedAgents.Add(1)
	f.closeIfDone(&f.attested, f.allAttested)
	f.closeIfDone(&f.ready, f.allReady)
	f.closeIfDone(&f.rotated, f.allRotated)
}

// closeIfDone closes all once n and the failed agents are every agent
// (an agent failing after reaching the state counts twice: at least).
// The caller holds f.mu.
func (f *fleet) closeIfDone(n *atomic.Int64, all chan struct{}) {
	if n.Load()+f.failedAgents.Load() < int64(len(f.agents)) {
		return
	}
	select {
	case <-all:
	default:
		close(all)
	}
}

func allAtLeast(m map[string]int, n int) bool {
	for _, v := range m {
		if v < n {
			return false
		}
	}
	return true
}

// identitySerial returns the serial number of an identity's leaf, "" when
// it has none.
func identitySerial(id workloadapi.Identity) string {
	certs, err := id.Certificates()
	if err != nil || len(certs) == 0 {
		return ""
	}
	return certs[0].SerialNumber.String()
}
