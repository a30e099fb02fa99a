package agent_test

import (
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
)

// nextSync returns the metadata of the next SyncAuthorizedEntries call the
// fake server receives.
func nextSync(t *testing.T, srv *fakeServer) metadata.MD {
	t.Helper()
	select {
	case md := <-srv.syncs:
		return md
	case <-time.After(waitTimeout):
		t.Fatal("no entry sync call in time")
		return nil
	}
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// TestEntrySyncPollsServersWithoutDigest runs the agent against a server
// that never sends the digest header, as a SPIRE server: it must keep
// polling, without wait metadata, and still pick up new entries.
func TestEntrySyncPollsServersWithoutDigest(t *testing.T) {
	clk := newClock()
	srv := newFakeServer(t, clk, fakeServerConfig{})
	srv.addToken("token", false)
	srv.setEntry("web", "/web", "unix:uid:1000")
	h := start(t, srv, clk, config(t, srv, clk, t.TempDir(), "token"))
	sub := h.subscribe("unix:uid:1000")
	waitUpdate(t, sub, "web identity", hasIDs("web"))

	for i := range 5 {
		if md := nextSync(t, srv); first(md, "svidkit-wait-digest") != "" || first(md, "svidkit-wait-timeout-ms") != "" {
			t.Fatalf("sync %d to a server without digests carried wait metadata: %v", i, md)
		}
	}
	srv.setEntry("db", "/db", "unix:uid:1000")
	waitUpdate(t, sub, "db identity by polling", hasIDs("db", "web"))
}

// TestEntrySyncWaitsOnDigest runs the agent against a server with the
// long-poll extension: after the first sync every call must carry the
// digest the server last sent, so the server can hold it, and a change
// released by the server must reach workloads.
func TestEntrySyncWaitsOnDigest(t *testing.T) {
	clk := newClock()
	srv := newFakeServer(t, clk, fakeServerConfig{longPoll: true})
	srv.addToken("token", false)
	srv.setEntry("web", "/web", "unix:uid:1000")
	cfg := config(t, srv, clk, t.TempDir(), "token")
	cfg.SyncWait = 10 * time.Second
	h := start(t, srv, clk, cfg)
	sub := h.subscribe("unix:uid:1000")

	if md := nextSync(t, srv); first(md, "svidkit-wait-digest") != "" {
		t.Fatalf("first sync carried a wait digest: %v", md)
	}
	srv.mu.Lock()
	version := srv.version
	srv.mu.Unlock()
	held := nextSync(t, srv)
	if got, want := first(held, "svidkit-wait-digest"), strconv.Itoa(version); got != want {
		t.Fatalf("second sync waits on digest %q, want %q", got, want)
	}
	if got := first(held, "svidkit-wait-timeout-ms"); got != "10000" {
		t.Fatalf("wait timeout %q, want 10000", got)
	}
	waitUpdate(t, sub, "web identity", hasIDs("web"))

	srv.setEntry("db", "/db", "unix:uid:1000")
	waitUpdate(t, sub, "db identity after the held sync returned", hasIDs("db", "web"))
	if md := nextSync(t, srv); first(md, "svidkit-wait-digest") != strconv.Itoa(version+1) {
		t.Fatalf("sync after the change waits on %q, want %d", first(md, "svidkit-wait-digest"), version+1)
	}
	// With SyncInterval at 20 ms a polling agent would have called again
	// by now; a waiting one sits in the held call.
	select {
	case md := <-srv.syncs:
		t.Fatalf("unexpected sync while one is held: %v", md)
	default:
	}
}
