package agent_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/metadata"

	"github.com/svidkit/svidkit/internal/testenv"
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
// polling, without wait metadata, and still pick up new entries. It keeps
// the fake server, whose fault is the missing long-poll extension, and
// reads the metadata of each sync call.
func TestEntrySyncPollsServersWithoutDigest(t *testing.T) {
	clk := newClock()
	srv := newFakeServer(t, clk, fakeServerConfig{})
	srv.addToken("token", false)
	srv.setEntry("web", "/web", "unix:uid:1000")
	h := start(t, clk, config(t, srv, clk, t.TempDir(), "token"))
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

// TestEntrySyncWaitsOnDigest runs the agent against the real server, which
// speaks the long-poll extension: after the first sync the agent must wait
// on the digest the server sent, so a change released by the server
// reaches workloads at once although the agent would poll only every hour,
// and the held call does not return while nothing changes.
func TestEntrySyncWaitsOnDigest(t *testing.T) {
	clk := newClock()
	srv := testenv.StartServer(t, testenv.Options{})
	web := createEntry(t, srv, "/web", "unix:uid:1000")
	cfg := realConfig(t, srv, clk, t.TempDir())
	cfg.SyncInterval = time.Hour // a polling agent would not see the next entry in time
	cfg.SyncWait = 30 * time.Second
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	h := start(t, clk, cfg)
	sub := h.subscribe("unix:uid:1000")
	waitUpdate(t, sub, "web identity", hasIDs(web))

	db := createEntry(t, srv, "/db", "unix:uid:1000")
	waitUpdate(t, sub, "db identity after the held sync returned", hasIDs(db, web))
	api := createEntry(t, srv, "/api", "unix:uid:1000")
	waitUpdate(t, sub, "api identity after the next held sync returned", hasIDs(api, db, web))
	// Three syncs completed: the first, and one held call per change. An
	// agent that did not wait (or whose wait the server refused) would
	// have made many more, or failed them.
	if got := gathered(t, reg, "svidkit_agent_entry_syncs_total"); got != 3 {
		t.Errorf("entry syncs = %v, want 3", got)
	}
	if got := gathered(t, reg, "svidkit_agent_sync_errors_total"); got != 0 {
		t.Errorf("sync errors = %v, want 0", got)
	}
}
