package agent_test

import (
	"context"
	"crypto/x509"
	"log/slog"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/svidkit/svidkit/internal/testclock"
	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/agent"
	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/selector"
)

// waitTimeout bounds every wait for an event (an SVID minted, an update
// delivered): not a speed, so it is generous for a loaded CI machine
// running the race detector.
const waitTimeout = 30 * time.Second

// harness is one agent under test.
type harness struct {
	t     testing.TB
	clk   *testclock.Clock
	agent *agent.Agent
	done  chan error
	stop  context.CancelFunc
}

func newClock() *testclock.Clock { return testclock.New(time.Now()) }

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testWriter sends log lines to the test log and, when lines is set, to a
// channel too, so tests can wait for a logged event.
type testWriter struct {
	t     testing.TB
	lines chan<- string
}

func (w testWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	w.t.Log(line)
	if w.lines != nil {
		select {
		case w.lines <- line:
		default: // nobody waiting: drop
		}
	}
	return len(p), nil
}

// config returns an agent config pointing at the fake server srv with its
// CA as bootstrap bundle.
func config(t testing.TB, srv *fakeServer, clk *testclock.Clock, dataDir, token string) agent.Config {
	return agent.Config{
		TrustDomain:   td,
		ServerAddress: srv.addr,
		TrustBundle:   []*x509.Certificate{srv.ca.Root()},
		JoinToken:     token,
		DataDir:       dataDir,
		SyncInterval:  20 * time.Millisecond,
		Clock:         clk,
		Log:           testLogger(t),
		Registerer:    prometheus.NewRegistry(),
	}
}

// start runs an agent with cfg until the test ends or stop is called.
func start(t testing.TB, clk *testclock.Clock, cfg agent.Config) *harness {
	t.Helper()
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return startAgent(t, clk, a)
}

// startAgent runs a until the test ends.
func startAgent(t testing.TB, clk *testclock.Clock, a *agent.Agent) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, clk: clk, agent: a, done: make(chan error, 1), stop: cancel}
	go func() { h.done <- a.Run(ctx) }()
	t.Cleanup(func() { h.shutdown() })
	return h
}

// shutdown cancels Run and waits for it, failing on a non-nil result.
func (h *harness) shutdown() {
	h.t.Helper()
	h.stop()
	select {
	case err, ok := <-h.done:
		if ok && err != nil {
			h.t.Errorf("Run returned %v after cancel, want nil", err)
		}
		if ok {
			close(h.done)
		}
	case <-time.After(waitTimeout):
		h.t.Error("Run did not return after cancel")
	}
}

func (h *harness) waitAttested() {
	h.t.Helper()
	select {
	case <-h.agent.Attested():
	case err := <-h.done:
		h.t.Fatalf("Run ended before attestation: %v", err)
	case <-time.After(waitTimeout):
		h.t.Fatal("agent not attested in time")
	}
}

func (h *harness) subscribe(sels ...string) workloadapi.Subscription {
	h.t.Helper()
	var ss []selector.Selector
	for _, s := range sels {
		v, err := selector.Parse(s)
		if err != nil {
			h.t.Fatal(err)
		}
		ss = append(ss, v)
	}
	sub, err := h.agent.Manager().Subscribe(context.Background(), selector.NewSet(ss...))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(sub.Finish)
	return sub
}

// waitUpdate returns the first update satisfying cond.
func waitUpdate(t testing.TB, sub workloadapi.Subscription, what string, cond func(*workloadapi.Update) bool) *workloadapi.Update {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case u, ok := <-sub.Updates():
			if !ok {
				t.Fatalf("waiting for %s: subscription closed", what)
			}
			if cond(u) {
				return u
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// eventually waits until cond holds, checking on a short tick.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitTimeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func entryIDs(u *workloadapi.Update) []string {
	var out []string
	for _, id := range u.Identities {
		out = append(out, id.EntryID)
	}
	return out
}

// hasIDs reports whether an update holds exactly the given entries, in any
// order (ordering by creation time is tested in the cache package; here
// entries may be created in different seconds).
func hasIDs(want ...string) func(*workloadapi.Update) bool {
	want = slices.Sorted(slices.Values(want))
	return func(u *workloadapi.Update) bool {
		return slices.Equal(slices.Sorted(slices.Values(entryIDs(u))), want)
	}
}

// leafOf returns the parsed leaf certificate of an identity; the cache
// hands out encoded chains, so this also checks that they parse.
func leafOf(t testing.TB, id workloadapi.Identity) *x509.Certificate {
	t.Helper()
	chain, err := id.Certificates()
	if err != nil {
		t.Fatalf("identity of entry %s: %v", id.EntryID, err)
	}
	return chain[0]
}

// serialOf returns the serial number of the SVID of entryID in u, nil when
// there is none or it does not parse.
func serialOf(u *workloadapi.Update, entryID string) *big.Int {
	for _, id := range u.Identities {
		if id.EntryID == entryID {
			chain, err := id.Certificates()
			if err != nil {
				return nil
			}
			return chain[0].SerialNumber
		}
	}
	return nil
}

func TestAttestSyncMint(t *testing.T) {
	clk := newClock()
	srv := testenv.StartServer(t, testenv.Options{})
	web := createEntry(t, srv, "/web", "unix:uid:1000")
	h := start(t, clk, realConfig(t, srv, clk, t.TempDir()))
	h.waitAttested()

	sub := h.subscribe("unix:uid:1000", "unix:gid:1000")
	u := waitUpdate(t, sub, "web identity", hasIDs(web))
	if u.Bundle == nil || len(u.Bundle.JWTAuthorities()) != 1 {
		t.Fatalf("update bundle = %v, want the server bundle with its JWT key", u.Bundle)
	}
	chain, err := u.Identities[0].Certificates()
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := x509svid.Verify(chain, u.Bundle.X509Bundle())
	if err != nil || id.Path() != "/web" {
		t.Fatalf("SVID verify: id %v, err %v", id, err)
	}
	eventually(t, "ready", h.agent.Ready)

	var db string
	t.Run("new entry is served", func(t *testing.T) {
		start := time.Now()
		db = createEntry(t, srv, "/db", "unix:gid:1000")
		waitUpdate(t, sub, "db identity", hasIDs(db, web))
		t.Logf("new entry servable after %v", time.Since(start))
	})
	t.Run("deleted entry is dropped", func(t *testing.T) {
		srv.DeleteEntry(t, web)
		waitUpdate(t, sub, "web dropped", hasIDs(db))
	})
	t.Run("updated entry moves", func(t *testing.T) {
		setSelectors(t, srv, db, "unix:gid:2000")
		waitUpdate(t, sub, "db moved away", hasIDs())
	})
	t.Run("JWT-SVIDs", func(t *testing.T) {
		m := h.agent.Manager()
		wl := selector.NewSet(selector.Selector{Type: "unix", Value: "gid:2000"})
		got, err := m.FetchJWTSVIDs(context.Background(), wl, []string{"aud"}, spiffeid.ID{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].SPIFFEID.Path() != "/db" {
			t.Fatalf("JWT-SVIDs = %+v", got)
		}
		// The token is the server's: it validates against the bundle the
		// agent serves, for the entry's SPIFFE ID and the audience asked.
		svid, err := jwtsvid.ParseAndValidate(got[0].Token, u.Bundle, []string{"aud"})
		if err != nil || svid.ID.Path() != "/db" {
			t.Fatalf("JWT-SVID %q: id %v, err %v", got[0].Token, svid, err)
		}
		again, err := m.FetchJWTSVIDs(context.Background(), wl, []string{"aud"}, spiffeid.ID{})
		if err != nil || again[0].Token != got[0].Token {
			t.Fatalf("second fetch = %+v, %v; want the cached token", again, err)
		}
	})
}

// TestRotation runs server and agent on one test clock: workload SVIDs
// rotate at half life, the agent SVID is renewed (not re-attested) at half
// life, the server switches to the renewed SVID on its first use, and
// syncing goes on with it.
func TestRotation(t *testing.T) {
	clk := newClock()
	srv := testenv.StartServer(t, testenv.Options{Clock: clk}) // agent SVIDs live an hour
	web := srv.CreateEntry(t, testenv.Entry{Path: "/web", Selectors: []string{"unix:uid:1000"}, X509TTL: 10 * time.Minute})
	cfg := realConfig(t, srv, clk, t.TempDir())
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	h := start(t, clk, cfg)
	h.waitAttested()
	sub := h.subscribe("unix:uid:1000")
	first := serialOf(waitUpdate(t, sub, "web identity", hasIDs(web)), web)

	clk.Add(5 * time.Minute) // half of the workload SVID TTL
	u := waitUpdate(t, sub, "rotated web SVID", func(u *workloadapi.Update) bool {
		s := serialOf(u, web)
		return s != nil && s.Cmp(first) != 0
	})
	if na := leafOf(t, u.Identities[0]).NotAfter; !na.After(clk.Now().Add(9 * time.Minute)) {
		t.Fatalf("rotated SVID expires at %v, want a fresh lifetime", na)
	}
	if renewals := gathered(t, reg, "svidkit_agent_svid_renewals_total"); renewals != 0 {
		t.Fatalf("agent SVID renewed %v times before its half life", renewals)
	}

	agentSerial := serverAgentSerial(t, srv)
	clk.Add(26 * time.Minute) // past half of the agent SVID TTL
	eventually(t, "agent SVID renewal", func() bool {
		return gathered(t, reg, "svidkit_agent_svid_renewals_total") == 1
	})
	// The renewed SVID becomes the agent's on the server at its first use:
	// later calls present it.
	eventually(t, "renewed SVID in use", func() bool { return serverAgentSerial(t, srv) != agentSerial })
	// Syncing still works with the new SVID: a new entry arrives.
	db := createEntry(t, srv, "/db", "unix:uid:1000")
	waitUpdate(t, sub, "db after renewal", hasIDs(db, web))
	attests := gathered(t, reg, "svidkit_agent_attestations_total")
	renewals := gathered(t, reg, "svidkit_agent_svid_renewals_total")
	if attests != 1 || renewals != 1 {
		t.Fatalf("attests %v renewals %v, want 1 and 1", attests, renewals)
	}
}

func TestRestartReusesIdentity(t *testing.T) {
	tests := []struct {
		name        string
		keyStore    string
		wantAttests int
	}{
		{name: "disk key store reuses the SVID", keyStore: agent.KeyStoreDisk, wantAttests: 1},
		{name: "memory key store attests again", keyStore: agent.KeyStoreMemory, wantAttests: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			srv := testenv.StartServer(t, testenv.Options{})
			web := createEntry(t, srv, "/web", "unix:uid:1000")
			dir := filepath.Join(t.TempDir(), "agent")
			cfg := realConfig(t, srv, clk, dir)
			cfg.KeyStore = tt.keyStore
			reg := prometheus.NewRegistry()
			cfg.Registerer = reg
			h := start(t, clk, cfg)
			h.waitAttested()
			waitUpdate(t, h.subscribe("unix:uid:1000"), "web identity", hasIDs(web))
			h.shutdown()
			attests := gathered(t, reg, "svidkit_agent_attestations_total")

			if tt.keyStore == agent.KeyStoreDisk {
				cfg.JoinToken = "" // a restart must not need the token
			} else {
				// The real server's join tokens are single-use: an agent
				// that lost its key attests with a new one.
				cfg.JoinToken = srv.JoinToken(t, testenv.NodePath)
			}
			reg = prometheus.NewRegistry()
			cfg.Registerer = reg
			h2 := start(t, clk, cfg)
			h2.waitAttested()
			waitUpdate(t, h2.subscribe("unix:uid:1000"), "web identity after restart", hasIDs(web))
			attests += gathered(t, reg, "svidkit_agent_attestations_total")
			if attests != float64(tt.wantAttests) {
				t.Fatalf("attestations = %v, want %d", attests, tt.wantAttests)
			}
		})
	}
}

func TestStartupFailures(t *testing.T) {
	clk := newClock()
	srv := testenv.StartServer(t, testenv.Options{}) // agent SVIDs live an hour

	t.Run("expired stored SVID without join token", func(t *testing.T) {
		dir := t.TempDir()
		h := start(t, clk, realConfig(t, srv, clk, dir))
		h.waitAttested()
		h.shutdown()
		clk.Add(2 * time.Hour)
		t.Cleanup(func() { clk.Add(-2 * time.Hour) })
		cfg := realConfig(t, srv, clk, dir)
		cfg.JoinToken = ""
		runErr(t, cfg, "expired")
	})
	t.Run("no identity and no join token", func(t *testing.T) {
		cfg := realConfig(t, srv, clk, t.TempDir())
		cfg.JoinToken = ""
		runErr(t, cfg, "no join token")
	})
	t.Run("rejected join token", func(t *testing.T) {
		cfg := realConfig(t, srv, clk, t.TempDir())
		cfg.JoinToken = "unknown"
		runErr(t, cfg, "join token does not exist")
	})
	t.Run("used join token", func(t *testing.T) {
		first := realConfig(t, srv, clk, t.TempDir())
		h := start(t, clk, first)
		h.waitAttested()
		cfg := realConfig(t, srv, clk, t.TempDir())
		cfg.JoinToken = first.JoinToken
		err := runErr(t, cfg, "already been used")
		if !contains(err, "join token refused") || !contains(err, "token generate") {
			t.Fatalf("Run = %v, want it to say the join token was refused and how to get a new one", err)
		}
	})
	t.Run("no trust bundle", func(t *testing.T) {
		cfg := realConfig(t, srv, clk, t.TempDir())
		cfg.TrustBundle = nil
		runErr(t, cfg, "trust bundle")
	})
}

// runErr runs an agent that must fail at startup with an error containing
// want, and returns that error.
func runErr(t testing.TB, cfg agent.Config, want string) error {
	t.Helper()
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err = a.Run(ctx)
	if !contains(err, want) {
		t.Fatalf("Run = %v, want an error containing %q", err, want)
	}
	return err
}

// contains reports whether err is non-nil and its message contains s.
func contains(err error, s string) bool {
	return err != nil && strings.Contains(err.Error(), s)
}

func TestInsecureBootstrap(t *testing.T) {
	clk := newClock()
	srv := testenv.StartServer(t, testenv.Options{})
	web := createEntry(t, srv, "/web", "unix:uid:1000")
	cfg := realConfig(t, srv, clk, t.TempDir())
	cfg.TrustBundle = nil
	cfg.InsecureBootstrap = true
	h := start(t, clk, cfg)
	h.waitAttested()
	waitUpdate(t, h.subscribe("unix:uid:1000"), "web identity", hasIDs(web))
}

// TestWrongServerIDIsNotTrusted keeps the fake server: the fault is a
// server presenting an SVID with the wrong SPIFFE ID, and the test reads
// whether it consumed the join token.
func TestWrongServerIDIsNotTrusted(t *testing.T) {
	clk := newClock()
	srv := newFakeServer(t, clk, fakeServerConfig{serverID: "spiffe://example.org/not-the-server"})
	srv.addToken("token", false)
	cfg := config(t, srv, clk, t.TempDir(), "token")
	lines := make(chan string)
	cfg.Log = slog.New(slog.NewTextHandler(testWriter{t: t, lines: lines}, nil))
	h := start(t, clk, cfg)

	deadline := time.After(waitTimeout)
	for failed := false; !failed; {
		select {
		case line := <-lines:
			failed = strings.Contains(line, "attestation failed; retrying") && strings.Contains(line, "not-the-server")
		case <-deadline:
			t.Fatal("no failed attestation logged")
		}
	}
	select {
	case <-h.agent.Attested():
		t.Fatal("agent attested to a server with the wrong SPIFFE ID")
	default:
	}
	srv.mu.Lock()
	_, unused := srv.tokens["token"]
	srv.mu.Unlock()
	if !unused {
		t.Fatal("join token was accepted by a server with the wrong SPIFFE ID")
	}
}

// TestRevisionSync keeps the fake server: it pages by 2 (the real server's
// page size is not configurable from testenv) and records the entry IDs
// the agent requests, which the real server does not expose.
func TestRevisionSync(t *testing.T) {
	clk := newClock()
	srv := newFakeServer(t, clk, fakeServerConfig{pageSize: 2})
	srv.addToken("token", false)
	for _, id := range []string{"e1", "e2", "e3", "e4", "e5"} {
		srv.setEntry(id, "/"+id, "unix:uid:1000")
	}
	h := start(t, clk, config(t, srv, clk, t.TempDir(), "token"))
	h.waitAttested()
	sub := h.subscribe("unix:uid:1000")
	waitUpdate(t, sub, "all five", hasIDs("e1", "e2", "e3", "e4", "e5"))
	srv.mu.Lock()
	var all []string
	for _, req := range srv.requestedIDs {
		if len(req) > 2 {
			t.Errorf("request for %v exceeds the server page size 2", req)
		}
		all = append(all, req...)
	}
	if !slices.Equal(all, []string{"e1", "e2", "e3", "e4", "e5"}) {
		t.Errorf("first sync requested %v, want every entry once", all)
	}
	srv.requestedIDs = nil
	srv.mu.Unlock()

	srv.setEntry("e3", "/e3-moved", "unix:uid:2000")
	waitUpdate(t, sub, "e3 moved away", hasIDs("e1", "e2", "e4", "e5"))
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.requestedIDs) != 1 || !slices.Equal(srv.requestedIDs[0], []string{"e3"}) {
		t.Fatalf("requests after updating e3 = %v, want only [e3]", srv.requestedIDs)
	}
}

// TestEvictedAgentReattests keeps the fake server: re-attesting a join
// token agent after eviction needs a reusable join token, which the real
// server (single-use tokens, as SPIRE) never issues.
func TestEvictedAgentReattests(t *testing.T) {
	clk := newClock()
	srv := newFakeServer(t, clk, fakeServerConfig{})
	srv.addToken("token", true)
	srv.setEntry("web", "/web", "unix:uid:1000")
	h := start(t, clk, config(t, srv, clk, t.TempDir(), "token"))
	h.waitAttested()
	sub := h.subscribe("unix:uid:1000")
	waitUpdate(t, sub, "web identity", hasIDs("web"))

	srv.evictAll()
	eventually(t, "re-attestation", func() bool { a, _ := srv.counts(); return a == 2 })
	srv.setEntry("db", "/db", "unix:uid:1000")
	waitUpdate(t, sub, "db after re-attestation", hasIDs("db", "web"))
}

func TestNewValidatesConfig(t *testing.T) {
	base := agent.Config{TrustDomain: td, ServerAddress: "127.0.0.1:8081", DataDir: t.TempDir()}
	tests := []struct {
		name   string
		mutate func(*agent.Config)
		want   string
	}{
		{name: "valid", mutate: func(*agent.Config) {}},
		{name: "no trust domain", mutate: func(c *agent.Config) { c.TrustDomain = spiffeid.TrustDomain{} }, want: "trust domain"},
		{name: "bad address", mutate: func(c *agent.Config) { c.ServerAddress = "localhost" }, want: "server address"},
		{name: "dns target", mutate: func(c *agent.Config) { c.ServerAddress = "dns://127.0.0.1:53/servers.test:8081" }},
		{name: "dns target without port", mutate: func(c *agent.Config) { c.ServerAddress = "dns:///servers.test" }, want: "server address"},
		{name: "other scheme", mutate: func(c *agent.Config) { c.ServerAddress = "unix:///run/server.sock" }, want: "only dns://"},
		{name: "no data dir", mutate: func(c *agent.Config) { c.DataDir = "" }, want: "data directory"},
		{name: "bad key store", mutate: func(c *agent.Config) { c.KeyStore = "tpm" }, want: "key store"},
		{name: "negative interval", mutate: func(c *agent.Config) { c.SyncInterval = -time.Second }, want: "sync interval"},
		{name: "negative sync wait", mutate: func(c *agent.Config) { c.SyncWait = -time.Second }, want: "sync wait"},
		{name: "join token and node attestor", mutate: func(c *agent.Config) {
			c.JoinToken = "t"
			c.NodeAttestor = agent.K8sPSAT{Cluster: "c", TokenPath: "/t"}
		}, want: "either a join token or a node attestor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.mutate(&cfg)
			_, err := agent.New(cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

// TestExpiredAgentSVIDReattests keeps the fake server: re-attesting after
// the agent SVID expired needs a reusable join token, which the real server
// (single-use tokens, as SPIRE) never issues.
func TestExpiredAgentSVIDReattests(t *testing.T) {
	clk := newClock()
	srv := newFakeServer(t, clk, fakeServerConfig{agentTTL: time.Hour})
	srv.addToken("token", true)
	srv.setEntry("web", "/web", "unix:uid:1000")
	h := start(t, clk, config(t, srv, clk, t.TempDir(), "token"))
	h.waitAttested()
	sub := h.subscribe("unix:uid:1000")
	first := serialOf(waitUpdate(t, sub, "web identity", hasIDs("web")), "web")

	clk.Add(2 * time.Hour) // as if the node slept past its SVID's expiry
	eventually(t, "re-attestation", func() bool { a, _ := srv.counts(); return a == 2 })
	waitUpdate(t, sub, "re-minted web SVID", func(u *workloadapi.Update) bool {
		s := serialOf(u, "web")
		return s != nil && s.Cmp(first) != 0
	})
	if _, renewals := srv.counts(); renewals != 0 {
		t.Fatalf("renewals = %d, want 0 (expired SVIDs cannot be renewed)", renewals)
	}
}

// TestSyncRemovals checks that an entry deleted on the server, with nothing
// else changed, leaves the cache in both sync modes: the in-place
// comparison of an unchanged round must still notice a missing entry. It
// keeps the fake server, which pages by 2 to force revision mode with three
// entries and records the entry IDs the agent requests.
func TestSyncRemovals(t *testing.T) {
	tests := []struct {
		name     string
		pageSize int
	}{
		{"full", 100},
		{"revisions", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			srv := newFakeServer(t, clk, fakeServerConfig{pageSize: tt.pageSize})
			srv.addToken("token", false)
			for _, id := range []string{"e1", "e2", "e3"} {
				srv.setEntry(id, "/"+id, "unix:uid:1000")
			}
			h := start(t, clk, config(t, srv, clk, t.TempDir(), "token"))
			h.waitAttested()
			sub := h.subscribe("unix:uid:1000")
			waitUpdate(t, sub, "all three", hasIDs("e1", "e2", "e3"))
			srv.mu.Lock()
			srv.requestedIDs = nil
			srv.mu.Unlock()

			srv.deleteEntry("e2")
			waitUpdate(t, sub, "e2 removed", hasIDs("e1", "e3"))
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if len(srv.requestedIDs) != 0 {
				t.Errorf("a removal made the agent request %v, want nothing", srv.requestedIDs)
			}
		})
	}
}
