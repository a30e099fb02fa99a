package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"

	"github.com/svidkit/svidkit/internal/benchmetric"
	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/selector"
)

// probeTimeout bounds one probe: entry created, SVID seen, entry deleted.
const probeTimeout = 30 * time.Second

// maxProbesInFlight bounds the probes running at once; a tick finding
// them all busy is counted as skipped, so an overloaded server shows as
// skipped probes rather than as an unbounded pile of goroutines.
const maxProbesInFlight = 512

// probeUIDBase keeps probe selectors apart from the agents' workload
// selectors (unix:uid:0 .. EntriesPerAgent-1).
const probeUIDBase = 1_000_000

// probes are the propagation timings of one phase: from the start of the
// admin API's BatchCreateEntry to the agent's workload seeing the new
// entry's SVID (entry sync, minting and the cache's update included). The
// prober process sends them to the load generator as they are (JSON).
type probes struct {
	mu sync.Mutex
	// Same are entries created through the agent's own server, Cross
	// through another one.
	Same, Cross benchmetric.Latencies
	Errors      int
	Skipped     int
	// FirstError is the first failure's message, for the report.
	FirstError string
	// Received counts the probe SVIDs the probe agents' workloads saw.
	Received int64
}

// add records one probe: seen when its workload got the SVID, d the time
// to it, err the probe's failure (a failed delete after the SVID too).
func (p *probes) add(d time.Duration, seen, cross bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if seen {
		p.Received++
	}
	switch {
	case err != nil:
		p.Errors++
		if p.FirstError == "" {
			p.FirstError = err.Error()
		}
	case cross:
		p.Cross = append(p.Cross, d)
	default:
		p.Same = append(p.Same, d)
	}
}

// prober creates, times and deletes probe entries for the agents of its
// fleet: it runs in the prober process (proberchild.go), whose fleet is
// its probe agents.
type prober struct {
	cfg    Config
	admins []*admin
	fleet  *fleet
	seq    atomic.Int64
}

// run probes at rate per second until ctx ends, and returns the timings
// once every started probe has finished. With several servers, every
// other probe creates its entry through a server the agent is not
// attached to.
func (p *prober) run(ctx context.Context, rate float64) *probes {
	res := &probes{}
	if rate <= 0 {
		<-ctx.Done()
		return res
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	sem := make(chan struct{}, maxProbesInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return res
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			res.mu.Lock()
			res.Skipped++
			res.mu.Unlock()
			continue
		}
		a := p.fleet.agents[rand.IntN(len(p.fleet.agents))]
		via, cross := a.server, false
		if len(p.admins) > 1 && n%2 == 1 {
			via, cross = (a.server+1+rand.IntN(len(p.admins)-1))%len(p.admins), true
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// A probe started before the phase's end finishes after it,
			// so that its entry is deleted.
			d, seen, err := p.probe(context.WithoutCancel(ctx), a, via)
			res.add(d, seen, cross, err)
		}()
	}
}

// probe creates an entry for agent a through server via, waits until a's
// workload for it sees its SVID, deletes it and returns the time from the
// create call to the SVID, and whether the SVID was seen.
func (p *prober) probe(ctx context.Context, a *simAgent, via int) (time.Duration, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	k := p.seq.Add(1)
	uid := "uid:" + strconv.FormatInt(probeUIDBase+k, 10)
	sub, err := a.core.Manager().Subscribe(ctx, selector.NewSet(selector.Selector{Type: "unix", Value: uid}))
	if err != nil {
		return 0, false, fmt.Errorf("probe: subscribe: %w", err)
	}
	defer sub.Finish()
	td := p.cfg.TrustDomain.Name()
	entry := &types.Entry{
		SpiffeId:    &types.SPIFFEID{TrustDomain: td, Path: fmt.Sprintf("/lg/%s/probe/%d", p.cfg.RunID, k)},
		ParentId:    &types.SPIFFEID{TrustDomain: td, Path: a.id.Path()},
		Selectors:   []*types.Selector{{Type: "unix", Value: uid}},
		X509SvidTtl: int32(p.cfg.X509SVIDTTL / time.Second),
	}
	start := time.Now()
	ids, err := p.admins[via].createEntries(ctx, []*types.Entry{entry})
	if err != nil {
		return 0, false, fmt.Errorf("probe: %w", err)
	}
	d, werr := waitEntry(ctx, sub.Updates(), ids[0], start)
	// Delete even after a timeout, so that the agent's set returns to
	// its size; a failed delete is the probe's error when it had none.
	derr := p.admins[via].deleteEntry(context.WithoutCancel(ctx), ids[0])
	return d, werr == nil, errors.Join(werr, derr)
}

// waitEntry waits for an update holding an SVID of entry id and returns
// the time since start.
func waitEntry(ctx context.Context, updates <-chan *workloadapi.Update, id string, start time.Time) (time.Duration, error) {
	for {
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("probe: no SVID for entry %s within %s", id, probeTimeout)
		case u, ok := <-updates:
			if !ok {
				return 0, errors.New("probe: subscription ended")
			}
			for _, ident := range u.Identities {
				if ident.EntryID == id {
					return time.Since(start), nil
				}
			}
		}
	}
}
