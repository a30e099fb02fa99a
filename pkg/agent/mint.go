package agent

import (
	"context"
	"crypto/ecdsa"
	"fmt"

	svidv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/svid/v1"
	"google.golang.org/grpc/codes"

	"github.com/svidkit/svidkit/pkg/agent/cache"
)

// mintBatchSize bounds the SVIDs requested in one BatchNewX509SVID call.
// Each batch is garbage once handed to the cache (requests, CSRs, parsed
// certificates); small batches keep that transient peak, and so the heap
// the GC sizes itself to, low when many entries arrive at once.
const mintBatchSize = 100

// mintStale evicts the least recently used SVIDs beyond the cache's size,
// then mints SVIDs for the entries the cache lists as stale (see
// cache.StaleEntries): those a connected workload lacks, those updated or
// at half life, and those that fit in the cache. Each batch is handed to
// the cache as soon as it is signed, so workloads see new identities
// without waiting for the whole set; when a workload starts waiting for an
// SVID mid-way, the list is taken again so that its entry is in the next
// batch. Entries the server refuses are logged and retried on the next
// sync.
func (a *Agent) mintStale(ctx context.Context) error {
	defer func() { a.metrics.svids.Set(float64(a.cache.SVIDCount())) }()
	if n := a.cache.Evict(); n > 0 {
		a.metrics.evicted.Add(float64(n))
		a.log.Debug("evicted least recently used SVIDs", "count", n)
	}
	stale := a.cache.StaleEntries(a.cfg.Clock.Now())
	if len(stale) == 0 {
		return nil
	}
	conn, err := a.client()
	if err != nil {
		return err
	}
	client := svidv1.NewSVIDClient(conn)
	for len(stale) > 0 {
		n := min(len(stale), mintBatchSize)
		if err := a.mintBatch(ctx, client, stale[:n]); err != nil {
			return err
		}
		stale = stale[n:]
		select {
		case <-a.cache.MintWanted():
			stale = a.cache.StaleEntries(a.cfg.Clock.Now())
		default:
		}
	}
	return nil
}

// mintBatch signs one batch of entries.
func (a *Agent) mintBatch(ctx context.Context, client svidv1.SVIDClient, entries []cache.Entry) error {
	keys := make([]*ecdsa.PrivateKey, len(entries))
	params := make([]*svidv1.NewX509SVIDParams, len(entries))
	for i, e := range entries {
		key, csr, err := newKeyAndCSR()
		if err != nil {
			return fmt.Errorf("mint SVIDs: %w", err)
		}
		keys[i] = key
		params[i] = &svidv1.NewX509SVIDParams{EntryId: e.ID, Csr: csr}
	}
	resp, err := client.BatchNewX509SVID(ctx, &svidv1.BatchNewX509SVIDRequest{Params: params})
	if err != nil {
		return fmt.Errorf("mint SVIDs: %w", err)
	}
	results := resp.GetResults()
	if len(results) != len(entries) {
		return fmt.Errorf("mint SVIDs: server returned %d results for %d requests", len(results), len(entries))
	}
	now := a.cfg.Clock.Now()
	svids := make(map[string]cache.SVID, len(entries))
	var failed []string
	for i, r := range results {
		e := entries[i]
		if c := codes.Code(r.GetStatus().GetCode()); c != codes.OK {
			a.log.Warn("server refused to mint SVID", "entry_id", e.ID, "spiffe_id", e.SPIFFEID, "code", c, "message", r.GetStatus().GetMessage())
			failed = append(failed, e.ID)
			continue
		}
		chain, err := parseSVID(r.GetSvid(), keys[i])
		if err != nil {
			a.log.Warn("invalid SVID from server", "entry_id", e.ID, "error", err)
			failed = append(failed, e.ID)
			continue
		}
		svids[e.ID] = cache.SVID{Chain: chain, Key: keys[i], EntryRevision: e.RevisionNumber, MintedAt: now}
	}
	// Count before publishing: a workload woken by SetSVIDs may read the
	// counter at once (TestX509SVIDCacheMaxSize does), and must see its mint.
	a.metrics.minted.Add(float64(len(svids)))
	a.cache.SetSVIDs(svids)
	if len(failed) > 0 {
		a.cache.MintFailed(failed)
	}
	return nil
}
