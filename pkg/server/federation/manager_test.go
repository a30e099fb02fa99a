package federation_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	fed "github.com/svidkit/svidkit/pkg/server/federation"
	"github.com/svidkit/svidkit/pkg/server/servingcert"
)

// testFloor is the refresh floor of these tests (one minute in
// production), so that several refresh periods pass in milliseconds.
const testFloor = 20 * time.Millisecond

func spiffeRel(b *domain, url string) *datastore.FederationRelationship {
	return &datastore.FederationRelationship{TrustDomain: b.td.Name(), BundleEndpointURL: url,
		BundleEndpointProfile: datastore.ProfileHTTPSSPIFFE, EndpointSPIFFEID: "spiffe://" + b.td.Name() + "/spire/server"}
}

func webRel(td spiffeid.TrustDomain, url string) *datastore.FederationRelationship {
	return &datastore.FederationRelationship{TrustDomain: td.Name(), BundleEndpointURL: url,
		BundleEndpointProfile: datastore.ProfileHTTPSWeb}
}

func newManager(t testing.TB, cfg fed.ManagerConfig) *fed.Manager {
	t.Helper()
	if cfg.MinRefreshInterval == 0 {
		cfg.MinRefreshInterval = testFloor
	}
	m, err := fed.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// served returns what an endpoint with refresh hint hint serves of d.
func served(d *domain, hint time.Duration) *spiffebundle.Bundle {
	b := d.ca.Bundle()
	b.SetRefreshHint(hint)
	return b
}

// TestManagerFollowsRotation federates a.test with b.test over
// https_spiffe, bootstrapped with B's bundle as `bundle set` stores it:
// A stores B's bundle, follows B's CA rotation at the next poll, and
// polls with If-None-Match without rewriting an unchanged bundle.
func TestManagerFollowsRotation(t *testing.T) {
	a, b := newDomain(t, "a.test"), newDomain(t, "b.test")
	bReg := prometheus.NewRegistry()
	eB := startEndpoint(t, fed.EndpointConfig{Source: b.ca, RefreshHint: time.Second, SVID: b.svid(t, "/spire/server"), Registerer: bReg})
	a.setBundle(t, b.ca.Bundle())

	logs, log := newLogSink()
	m := newManager(t, fed.ManagerConfig{TrustDomain: a.td, Static: []*datastore.FederationRelationship{spiffeRel(b, endpointURL(eB))},
		Bundles: a.store, Log: log})
	t.Cleanup(runTask(t, m.Run))

	logs.waitCount(t, 1, "federated bundle updated", "trust_domain=b.test")
	if got := a.stored(t, b.td); !got.Equal(served(b, time.Second)) {
		t.Fatal("stored bundle differs from B's")
	}
	rotated := b.rotate(t)
	logs.waitCount(t, 2, "federated bundle updated", "trust_domain=b.test")
	got := a.stored(t, b.td)
	if !got.Equal(served(b, time.Second)) {
		t.Fatal("stored bundle is not B's rotated one")
	}
	if s, _ := got.SequenceNumber(); s != mustSeq(rotated) {
		t.Errorf("stored sequence %d, want %d", s, mustSeq(rotated))
	}
	// Later polls carry the ETag and get 304: nothing is stored again.
	deadline := time.Now().Add(waitTimeout)
	for counter(t, bReg, "svidkit_server_federation_endpoint_requests_total", "304") < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no conditional polls answered 304")
		}
		time.Sleep(testFloor)
	}
	if n := logs.count("federated bundle updated"); n != 2 {
		t.Errorf("%d updates logged, want 2 (an unchanged bundle is not stored)", n)
	}
}

func mustSeq(b *spiffebundle.Bundle) uint64 { s, _ := b.SequenceNumber(); return s }

// TestManagerHTTPSWeb fetches over https_web, verified with the Web PKI
// roots given (the system roots in production); no bootstrap needed.
func TestManagerHTTPSWeb(t *testing.T) {
	a, b := newDomain(t, "a.test"), newDomain(t, "b.test")
	web := testca.NewForTest(t, "web.test")
	certFile, keyFile, _ := webCert(t, web, t.TempDir(), "b")
	eB := startEndpoint(t, fed.EndpointConfig{Source: b.ca, ServingCertFile: &servingcert.Config{CertFile: certFile, KeyFile: keyFile}})
	m := newManager(t, fed.ManagerConfig{TrustDomain: a.td, Bundles: a.store, WebPKIRoots: rootPool(web),
		Static: []*datastore.FederationRelationship{webRel(b.td, "https://localhost:"+portOf(eB)+"/")}})
	if err := m.RefreshBundle(context.Background(), b.td); err != nil {
		t.Fatalf("RefreshBundle: %v", err)
	}
	if got := a.stored(t, b.td); got == nil || !got.Equal(served(b, fed.DefaultRefreshHint)) {
		t.Fatal("stored bundle differs from B's")
	}
}

// TestManagerEndpointDownThenBack stops B's endpoint for several refresh
// periods while B rotates: A keeps B's last bundle, logs each failure,
// and stores the rotated bundle once B's endpoint is back.
func TestManagerEndpointDownThenBack(t *testing.T) {
	a, b := newDomain(t, "a.test"), newDomain(t, "b.test")
	svid := b.svid(t, "/spire/server")
	eB, stopB := runEndpoint(t, fed.EndpointConfig{Source: b.ca, RefreshHint: time.Second, SVID: svid})
	addr := eB.Addr().String()
	a.setBundle(t, b.ca.Bundle())
	logs, log := newLogSink()
	reg := prometheus.NewRegistry()
	m := newManager(t, fed.ManagerConfig{TrustDomain: a.td, Bundles: a.store, Log: log, Registerer: reg,
		Static: []*datastore.FederationRelationship{spiffeRel(b, "https://"+addr+"/")}})
	t.Cleanup(runTask(t, m.Run))
	logs.waitCount(t, 1, "federated bundle updated")
	before := a.stored(t, b.td)

	stopB()
	b.rotate(t)
	logs.waitCount(t, 3, "keeping the last good bundle", "reason=unreachable")
	if got := a.stored(t, b.td); !got.Equal(before) {
		t.Fatal("stored bundle changed while B was down")
	}
	if n := counter(t, reg, "svidkit_server_federation_fetch_failures_total", "unreachable"); n < 3 {
		t.Errorf("unreachable failures counted = %v, want >= 3", n)
	}

	runEndpoint(t, fed.EndpointConfig{Address: addr, Source: b.ca, RefreshHint: time.Second, SVID: svid})
	logs.waitCount(t, 2, "federated bundle updated")
	if got := a.stored(t, b.td); !got.Equal(served(b, time.Second)) {
		t.Fatal("B's rotated bundle not stored after B came back")
	}
}

// relationshipMap stands in for the SQLite store's
// ListFederationRelationships, which another part of the server owns.
type relationshipMap struct {
	mu   sync.Mutex
	rels map[string]*datastore.FederationRelationship
}

func (r *relationshipMap) set(rel *datastore.FederationRelationship) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rels == nil {
		r.rels = make(map[string]*datastore.FederationRelationship)
	}
	r.rels[rel.TrustDomain] = rel
}

func (r *relationshipMap) delete(td string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.rels, td)
}

func (r *relationshipMap) ListFederationRelationships(context.Context) ([]*datastore.FederationRelationship, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*datastore.FederationRelationship, 0, len(r.rels))
	for _, rel := range r.rels {
		c := *rel
		out = append(out, &c)
	}
	return out, nil
}

// TestManagerDynamicRelationships merges stored relationships with the
// configuration's (the configuration wins for the same trust domain),
// starts one on RelationshipsChanged and stops it when it is deleted.
func TestManagerDynamicRelationships(t *testing.T) {
	a, b, c := newDomain(t, "a.test"), newDomain(t, "b.test"), newDomain(t, "c.test")
	eB := startEndpoint(t, fed.EndpointConfig{Source: b.ca, SVID: b.svid(t, "/spire/server")})
	eC := startEndpoint(t, fed.EndpointConfig{Source: c.ca, SVID: c.svid(t, "/spire/server")})
	a.setBundle(t, b.ca.Bundle())
	a.setBundle(t, c.ca.Bundle())
	c.rotate(t) // so that a fetch of C changes A's copy

	stored := &relationshipMap{}
	// The stored relationship with B points nowhere; the static one wins.
	stored.set(spiffeRel(b, "https://127.0.0.1:1/"))
	logs, log := newLogSink()
	m := newManager(t, fed.ManagerConfig{TrustDomain: a.td, Bundles: a.store, Log: log, Relationships: stored,
		ResyncInterval: time.Hour, Static: []*datastore.FederationRelationship{spiffeRel(b, endpointURL(eB))}})
	if err := m.RefreshBundle(context.Background(), b.td); err != nil {
		t.Fatalf("RefreshBundle(b.test): %v (the static relationship must win)", err)
	}
	if err := m.RefreshBundle(context.Background(), c.td); !errors.Is(err, fed.ErrNoRelationship) || !errors.Is(err, datastore.ErrNotFound) {
		t.Fatalf("RefreshBundle(c.test) = %v, want ErrNoRelationship wrapping datastore.ErrNotFound", err)
	}
	t.Cleanup(runTask(t, m.Run))

	stored.set(spiffeRel(c, endpointURL(eC)))
	m.RelationshipsChanged()
	logs.waitCount(t, 1, "federated bundle updated", "trust_domain=c.test")
	if got := a.stored(t, c.td); !got.Equal(served(c, fed.DefaultRefreshHint)) {
		t.Fatal("C's bundle not stored")
	}
	stored.delete(c.td.Name())
	m.RelationshipsChanged()
	logs.waitCount(t, 1, "stopped refreshing federated bundle", "trust_domain=c.test")
}

func TestNewManagerErrors(t *testing.T) {
	a := newDomain(t, "a.test")
	tests := []struct {
		name string
		rel  *datastore.FederationRelationship
		want string
	}{
		{name: "own trust domain", rel: webRel(a.td, "https://x/"), want: "own trust domain"},
		{name: "http url", rel: webRel(spiffeid.RequireTrustDomainFromString("b.test"), "http://x/"), want: "not an https URL"},
		{name: "bad profile", rel: &datastore.FederationRelationship{TrustDomain: "b.test", BundleEndpointURL: "https://x/", BundleEndpointProfile: "acme"},
			want: "unknown bundle endpoint profile"},
		{name: "https_spiffe without id", rel: &datastore.FederationRelationship{TrustDomain: "b.test", BundleEndpointURL: "https://x/",
			BundleEndpointProfile: datastore.ProfileHTTPSSPIFFE}, want: "endpoint SPIFFE ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fed.NewManager(fed.ManagerConfig{TrustDomain: a.td, Bundles: a.store, Static: []*datastore.FederationRelationship{tt.rel}})
			if err == nil || !contains(err.Error(), tt.want) {
				t.Errorf("NewManager error = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestManagerConditionalPollsAfterRestart starts a Manager on a store
// that already holds B's current bundle (a restarted server): the first
// fetch finds it unchanged, and the next ones are conditional (304).
func TestManagerConditionalPollsAfterRestart(t *testing.T) {
	a, b := newDomain(t, "a.test"), newDomain(t, "b.test")
	bReg := prometheus.NewRegistry()
	eB := startEndpoint(t, fed.EndpointConfig{Source: b.ca, RefreshHint: time.Second, SVID: b.svid(t, "/spire/server"), Registerer: bReg})
	a.setBundle(t, served(b, time.Second))
	logs, log := newLogSink()
	m := newManager(t, fed.ManagerConfig{TrustDomain: a.td, Bundles: a.store, Log: log,
		Static: []*datastore.FederationRelationship{spiffeRel(b, endpointURL(eB))}})
	t.Cleanup(runTask(t, m.Run))
	deadline := time.Now().Add(waitTimeout)
	for counter(t, bReg, "svidkit_server_federation_endpoint_requests_total", "304") < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no conditional poll after %v full ones", counter(t, bReg, "svidkit_server_federation_endpoint_requests_total", "200"))
		}
		time.Sleep(testFloor)
	}
	if n := logs.count("federated bundle updated"); n != 0 {
		t.Errorf("%d updates logged for an unchanged bundle, want 0", n)
	}
}
