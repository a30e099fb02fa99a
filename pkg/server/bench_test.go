package server_test

import (
	"context"
	"fmt"
	"testing"

	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	svidv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/svid/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
)

// createMany creates n entries under parent in batches.
func (e *env) createMany(n int, parent *types.SPIFFEID, prefix string) []*types.Entry {
	var out []*types.Entry
	for start := 0; start < n; start += 100 {
		var batch []*types.Entry
		for i := start; i < min(start+100, n); i++ {
			batch = append(batch, &types.Entry{SpiffeId: pid(fmt.Sprintf("/%s/%d", prefix, i)), ParentId: parent, Selectors: sels("unix:uid:1")})
		}
		out = append(out, e.createEntries(batch...)...)
	}
	return out
}

func BenchmarkBatchNewX509SVID(b *testing.B) {
	const batch = 10
	e := newEnv(b)
	agent := e.mustAttest("bench")
	entries := e.createMany(batch, idOf(agent), "wl")
	_, csr := newKeyCSR(b)
	req := &svidv1.BatchNewX509SVIDRequest{}
	for _, en := range entries {
		req.Params = append(req.Params, &svidv1.NewX509SVIDParams{EntryId: en.Id, Csr: csr})
	}
	client := svidv1.NewSVIDClient(e.tcpConn(agent))
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.BatchNewX509SVID(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if codes.Code(resp.Results[0].Status.Code) != codes.OK {
			b.Fatal(resp.Results[0].Status.Message)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "svids/s")
}

func BenchmarkMintX509SVIDParallel(b *testing.B) {
	e := newEnv(b)
	_, csr := newKeyCSR(b, "spiffe://example.org/minted")
	client := svidv1.NewSVIDClient(e.admin)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := client.MintX509SVID(context.Background(), &svidv1.MintX509SVIDRequest{Csr: csr}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "svids/s")
}

// BenchmarkGetAuthorizedEntries polls with 1,000 entries in the store, 500
// of them authorized for the polling agent (half directly, half through a
// node entry).
func BenchmarkGetAuthorizedEntries(b *testing.B) {
	e := newEnv(b)
	agent := e.mustAttest("poll")
	e.createEntries(&types.Entry{SpiffeId: pid("/node/group"), ParentId: pid("/spire/server"), Selectors: sels("spiffe_id:" + agent.ID.String())})
	e.createMany(250, idOf(agent), "direct")
	e.createMany(249, pid("/node/group"), "group")
	e.createMany(500, pid("/spire/agent/join_token/someone-else"), "other")
	client := entryv1.NewEntryClient(e.tcpConn(agent))
	resp, err := client.GetAuthorizedEntries(context.Background(), &entryv1.GetAuthorizedEntriesRequest{})
	if err != nil {
		b.Fatal(err)
	}
	if len(resp.Entries) != 500 {
		b.Fatalf("authorized for %d entries, want 500", len(resp.Entries))
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := client.GetAuthorizedEntries(context.Background(), &entryv1.GetAuthorizedEntriesRequest{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "polls/s")
}
