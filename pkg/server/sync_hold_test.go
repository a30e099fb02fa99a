package server_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/svidkit/svidkit/pkg/server"
)

// Metadata of the long-poll extension, as an agent spells it.
const (
	digestHeader   = "svidkit-entries-digest"
	waitDigestKey  = "svidkit-wait-digest"
	waitTimeoutKey = "svidkit-wait-timeout-ms"
)

// heldPromptly bounds how long a held sync may take to answer a change.
// Generous for -race on a loaded machine; a polling server would need its
// whole wait (seconds) and fail.
const heldPromptly = time.Second

// syncResult is the outcome of one SyncAuthorizedEntries call.
type syncResult struct {
	digest string
	// bundles is the bundles digest header, when the server sent one.
	bundles string
	entries []*types.Entry
	err     error
}

// syncOnce runs one full-mode sync with the given request metadata
// (key, value pairs) and returns the digest header and entries.
func syncOnce(ctx context.Context, conn *grpc.ClientConn, md ...string) syncResult {
	ctx = metadata.AppendToOutgoingContext(ctx, md...)
	stream, err := entryv1.NewEntryClient(conn).SyncAuthorizedEntries(ctx)
	if err != nil {
		return syncResult{err: err}
	}
	// io.EOF from Send means the server ended the call: Recv has why.
	if err := stream.Send(&entryv1.SyncAuthorizedEntriesRequest{}); err != nil && !errors.Is(err, io.EOF) {
		return syncResult{err: err}
	}
	resp, err := stream.Recv()
	if err != nil {
		return syncResult{err: err}
	}
	hdr, err := stream.Header()
	if err != nil {
		return syncResult{err: err}
	}
	_ = stream.CloseSend()
	var digest, bundles string
	if v := hdr.Get(digestHeader); len(v) > 0 {
		digest = v[0]
	}
	if v := hdr.Get(bundlesHeader); len(v) > 0 {
		bundles = v[0]
	}
	return syncResult{digest: digest, bundles: bundles, entries: resp.Entries}
}

// startSync runs syncOnce in the background; the call is cancelled when
// the test ends.
func startSync(t *testing.T, conn *grpc.ClientConn, md ...string) <-chan syncResult {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	out := make(chan syncResult, 1)
	go func() { out <- syncOnce(ctx, conn, md...) }()
	return out
}

// mustSync runs a sync that must answer at once and succeed.
func mustSync(t *testing.T, conn *grpc.ClientConn, md ...string) syncResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := syncOnce(ctx, conn, md...)
	if r.err != nil {
		t.Fatalf("sync: %v", r.err)
	}
	if r.digest == "" {
		t.Fatalf("sync: no %s header", digestHeader)
	}
	return r
}

// await waits for a sync result until the deadline.
func await(t *testing.T, ch <-chan syncResult, within time.Duration, what string) syncResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(within):
		t.Fatalf("%s: no answer within %v", what, within)
		return syncResult{}
	}
}

// gaugeValue returns the value of an unlabelled gauge.
func gaugeValue(t *testing.T, e *env, name string) float64 {
	t.Helper()
	families, err := e.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}

// waitHeld waits until the server holds n syncs. The gauge publishes no
// event, so it is polled.
func waitHeld(t *testing.T, e *env, n float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for gaugeValue(t, e, "svidkit_server_entry_syncs_held") != n {
		if time.Now().After(deadline) {
			t.Fatalf("server did not hold %v syncs within 5s", n)
		}
		time.Sleep(2 * time.Millisecond) // polling a metric, not waiting for an event
	}
}

func waitOn(digest string) []string { return []string{waitDigestKey, digest} }

func entryFor(agent *x509svid.SVID, path string) *types.Entry {
	return &types.Entry{SpiffeId: pid(path), ParentId: idOf(agent), Selectors: sels("unix:uid:1")}
}

func TestSyncDigestHeader(t *testing.T) {
	e := newEnv(t)
	a := e.mustAttest("digest-a")
	b := e.mustAttest("digest-b")
	connA, connB := e.tcpConn(a), e.tcpConn(b)
	e.createEntries(entryFor(a, "/wl/a"))

	first := mustSync(t, connA)
	tests := []struct {
		name   string
		change func()
		same   bool
	}{
		{name: "nothing changed", change: func() {}, same: true},
		{name: "other agent's entry created", change: func() { e.createEntries(entryFor(b, "/wl/b")) }, same: true},
		{name: "own entry created", change: func() { e.createEntries(entryFor(a, "/wl/a2")) }, same: false},
	}
	prev := first.digest
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.change()
			got := mustSync(t, connA).digest
			if (got == prev) != tt.same {
				t.Fatalf("digest %q after change, before %q; want same=%v", got, prev, tt.same)
			}
			prev = got
		})
	}
	if d := mustSync(t, connB).digest; d == prev {
		t.Errorf("agents with different sets share digest %q", d)
	}
}

// TestHeldSyncSeesOtherServersWrites runs two servers on one store, as two
// processes sharing a database: an entry created through one ends a sync
// held by the other, which learns of it only from the store's revision.
func TestHeldSyncSeesOtherServersWrites(t *testing.T) {
	e := newEnv(t)
	other := newEnv(t, func(c *server.Config) { c.Store = e.store })
	a := e.mustAttest("shared-a")
	conn := e.tcpConn(a)
	ch := startSync(t, conn, waitOn(mustSync(t, conn).digest)...)
	waitHeld(t, e, 1)
	other.createEntries(entryFor(a, "/wl/from-other-server"))
	if r := await(t, ch, heldPromptly, "sync held by the first server"); r.err != nil || len(r.entries) != 1 {
		t.Fatalf("held sync: %d entries, %v", len(r.entries), r.err)
	}
}

func TestHeldSync(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, e *env, a, b *x509svid.SVID)
	}{
		{name: "returns at once without metadata", run: func(t *testing.T, e *env, a, _ *x509svid.SVID) {
			ch := startSync(t, e.tcpConn(a))
			if r := await(t, ch, heldPromptly, "plain sync"); r.err != nil || len(r.entries) != 1 {
				t.Fatalf("plain sync: %d entries, %v", len(r.entries), r.err)
			}
		}},
		{name: "returns at once on a stale digest", run: func(t *testing.T, e *env, a, _ *x509svid.SVID) {
			ch := startSync(t, e.tcpConn(a), waitOn("stale")...)
			if r := await(t, ch, heldPromptly, "stale digest"); r.err != nil || r.digest == "stale" {
				t.Fatalf("stale digest: digest %q, %v", r.digest, r.err)
			}
		}},
		{name: "returns when own entry is created, not for another agent's", run: func(t *testing.T, e *env, a, b *x509svid.SVID) {
			connA, connB := e.tcpConn(a), e.tcpConn(b)
			digestA, digestB := mustSync(t, connA).digest, mustSync(t, connB).digest
			heldA := startSync(t, connA, waitOn(digestA)...)
			heldB := startSync(t, connB, waitOn(digestB)...)
			waitHeld(t, e, 2)

			e.createEntries(entryFor(b, "/wl/b-new"))
			r := await(t, heldB, heldPromptly, "agent b's held sync")
			if r.err != nil || r.digest == digestB || len(r.entries) != 2 {
				t.Fatalf("agent b: digest %q (was %q), %d entries, %v", r.digest, digestB, len(r.entries), r.err)
			}
			select {
			case r := <-heldA:
				t.Fatalf("agent a's held sync answered for agent b's entry: %+v", r)
			default:
			}
			waitHeld(t, e, 1)

			created := e.createEntries(entryFor(a, "/wl/a-new"))[0]
			r = await(t, heldA, heldPromptly, "agent a's held sync")
			if r.err != nil || r.digest == digestA {
				t.Fatalf("agent a: digest %q (was %q), %v", r.digest, digestA, r.err)
			}
			if !slices.ContainsFunc(r.entries, func(en *types.Entry) bool { return en.Id == created.Id }) {
				t.Fatalf("agent a: new entry %s missing from %v", created.Id, entryIDs(r.entries))
			}
			if got := counterValue(t, e, "svidkit_server_entry_sync_holds_total", "changed"); got != 2 {
				t.Errorf("holds{result=changed} = %v, want 2", got)
			}
		}},
		{name: "returns on max wait", run: func(t *testing.T, e *env, a, _ *x509svid.SVID) {
			conn := e.tcpConn(a)
			digest := mustSync(t, conn).digest
			ch := startSync(t, conn, append(waitOn(digest), waitTimeoutKey, "100")...)
			r := await(t, ch, 5*time.Second, "held sync with a 100 ms wait")
			if r.err != nil || r.digest != digest || len(r.entries) != 1 {
				t.Fatalf("after max wait: digest %q (was %q), %d entries, %v", r.digest, digest, len(r.entries), r.err)
			}
			if got := counterValue(t, e, "svidkit_server_entry_sync_holds_total", "timeout"); got != 1 {
				t.Errorf("holds{result=timeout} = %v, want 1", got)
			}
		}},
		{name: "banned agent is denied", run: func(t *testing.T, e *env, a, _ *x509svid.SVID) {
			conn := e.tcpConn(a)
			ch := startSync(t, conn, waitOn(mustSync(t, conn).digest)...)
			waitHeld(t, e, 1)
			if _, err := agentv1.NewAgentClient(e.admin).BanAgent(context.Background(), &agentv1.BanAgentRequest{Id: idOf(a)}); err != nil {
				t.Fatal(err)
			}
			wantCode(t, await(t, ch, heldPromptly, "banned agent's held sync").err, codes.PermissionDenied)
		}},
		{name: "deleted agent is denied", run: func(t *testing.T, e *env, a, _ *x509svid.SVID) {
			conn := e.tcpConn(a)
			ch := startSync(t, conn, waitOn(mustSync(t, conn).digest)...)
			waitHeld(t, e, 1)
			if _, err := agentv1.NewAgentClient(e.admin).DeleteAgent(context.Background(), &agentv1.DeleteAgentRequest{Id: idOf(a)}); err != nil {
				t.Fatal(err)
			}
			wantCode(t, await(t, ch, heldPromptly, "deleted agent's held sync").err, codes.PermissionDenied)
		}},
		{name: "bad wait timeout", run: func(t *testing.T, e *env, a, _ *x509svid.SVID) {
			ch := startSync(t, e.tcpConn(a), append(waitOn("x"), waitTimeoutKey, "soon")...)
			wantCode(t, await(t, ch, heldPromptly, "bad timeout").err, codes.InvalidArgument)
		}},
		{name: "graceful stop releases held syncs", run: func(t *testing.T, e *env, a, b *x509svid.SVID) {
			connA, connB := e.tcpConn(a), e.tcpConn(b)
			heldA := startSync(t, connA, waitOn(mustSync(t, connA).digest)...)
			heldB := startSync(t, connB, waitOn(mustSync(t, connB).digest)...)
			waitHeld(t, e, 2)
			stopped := make(chan error, 1)
			go func() { stopped <- e.stop() }()
			select {
			case err := <-stopped:
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
			case <-time.After(3 * time.Second): // the forced stop comes after 5 s
				t.Fatal("server did not stop promptly with held syncs")
			}
			for _, ch := range []<-chan syncResult{heldA, heldB} {
				await(t, ch, heldPromptly, "held sync after stop")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			a := e.mustAttest("held-a")
			b := e.mustAttest("held-b")
			e.createEntries(entryFor(a, "/wl/a"), entryFor(b, "/wl/b"))
			tt.run(t, e, a, b)
		})
	}
}
