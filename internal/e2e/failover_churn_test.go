package e2e_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"

	"github.com/svidkit/svidkit/internal/testenv"
)

// churnedEntry is an entry the churn created: the agent it is for and
// its SPIFFE ID.
type churnedEntry struct {
	agent *agentProc
	id    string
}

// entryChurn creates entries for the cluster's agents, one every interval
// and in turn, through the server in target (the other server when that
// fails), until stopped, so that servers are killed while entries are
// being created.
type entryChurn struct {
	c        *failoverCluster
	ttl      time.Duration
	interval time.Duration
	target   atomic.Pointer[serverProc]

	mu      sync.Mutex
	created []churnedEntry
	errs    []string
}

// runChurn starts the churn through target; stop ends it and returns the
// entries created.
func runChurn(c *failoverCluster, target *serverProc, ttl, interval time.Duration) (ch *entryChurn, stop func() []churnedEntry) {
	ch = &entryChurn{c: c, ttl: ttl, interval: interval}
	ch.target.Store(target)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ch.run(ctx) }()
	return ch, func() []churnedEntry {
		cancel()
		<-done
		ch.mu.Lock()
		defer ch.mu.Unlock()
		return ch.created
	}
}

// run creates entries until ctx is done.
func (ch *entryChurn) run(ctx context.Context) {
	tick := time.NewTicker(ch.interval)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		a := ch.c.agents[n%len(ch.c.agents)]
		path := fmt.Sprintf("/churn/%d", n)
		e := &types.Entry{
			SpiffeId:    &types.SPIFFEID{TrustDomain: trustDomain, Path: path},
			ParentId:    &types.SPIFFEID{TrustDomain: trustDomain, Path: a.nodePath},
			Selectors:   []*types.Selector{{Type: "unix", Value: fmt.Sprintf("uid:%d", os.Getuid())}},
			X509SvidTtl: int32(ch.ttl / time.Second),
		}
		if err := ch.create(ctx, e); err != nil {
			if ctx.Err() != nil {
				return // stopped during the call
			}
			ch.mu.Lock()
			ch.errs = append(ch.errs, fmt.Sprintf("create %s: %v", path, err))
			ch.mu.Unlock()
			continue
		}
		ch.mu.Lock()
		ch.created = append(ch.created, churnedEntry{agent: a, id: "spiffe://" + trustDomain + path})
		ch.mu.Unlock()
	}
}

// create creates e through the target server, or through the other one
// when the target fails (it may be killed during the call). An entry that
// already exists there was created by the interrupted call.
func (ch *entryChurn) create(ctx context.Context, e *types.Entry) error {
	first := ch.target.Load()
	var errs []error
	for _, s := range []*serverProc{first, ch.c.other(first)} {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := entryv1.NewEntryClient(s.Admin().Conn()).BatchCreateEntry(ctx, &entryv1.BatchCreateEntryRequest{Entries: []*types.Entry{e}})
		cancel()
		if err == nil {
			switch code := codes.Code(resp.Results[0].GetStatus().GetCode()); code {
			case codes.OK, codes.AlreadyExists:
				return nil
			default:
				err = fmt.Errorf("%s: %s", code, resp.Results[0].GetStatus().GetMessage())
			}
		}
		errs = append(errs, fmt.Errorf("through %s: %w", s.name, err))
	}
	return fmt.Errorf("%v", errs)
}

// Errors returns the creates that failed through both servers.
func (ch *entryChurn) Errors() []string {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return append([]string(nil), ch.errs...)
}

// other is the server that is not s.
func (c *failoverCluster) other(s *serverProc) *serverProc {
	if c.servers[0] == s {
		return c.servers[1]
	}
	return c.servers[0]
}

// workloadEntryFor is an entry of the test's uid under agent a.
func workloadEntryFor(a *agentProc, path string, ttl time.Duration) testenv.Entry {
	return testenv.Entry{Path: path, ParentPath: a.nodePath, Selectors: []string{testenv.UID(os.Getuid())}, X509TTL: ttl}
}
