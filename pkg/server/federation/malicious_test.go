package federation_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	fed "github.com/svidkit/svidkit/pkg/server/federation"
)

// serveHTTPS runs a real HTTPS server on loopback with handler h and the
// certificate getter cert until the test ends. It stands in for a
// malicious or broken bundle endpoint: the faults below cannot be had
// from a correct Endpoint.
func serveHTTPS(t *testing.T, cert func(*tls.ClientHelloInfo) (*tls.Certificate, error), h http.HandlerFunc) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: &tls.Config{GetCertificate: cert}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeTLS(lis, "", "")
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return lis.Addr().String()
}

// body answers every request with status 200 and b.
func body(b []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(b) }
}

// TestManagerRefusesBadEndpoints points A's relationship with B at
// endpoints that misbehave: each fetch is refused with its reason, logged
// and counted, and A keeps B's good bundle.
func TestManagerRefusesBadEndpoints(t *testing.T) {
	b, c := newDomain(t, "b.test"), newDomain(t, "c.test")
	web := testca.NewForTest(t, "web.test")
	other := testca.NewForTest(t, "untrusted.test")
	certFile, keyFile, _ := webCert(t, web, t.TempDir(), "endpoint")
	webPair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	webCertGetter := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &webPair, nil }
	otherFile, otherKey, _ := webCert(t, other, t.TempDir(), "endpoint")
	otherPair, err := tls.LoadX509KeyPair(otherFile, otherKey)
	if err != nil {
		t.Fatal(err)
	}

	good := b.ca.Bundle()
	goodJSON, err := good.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cJSON, err := c.ca.Bundle().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	regress := b.ca.Bundle()
	regress.SetSequenceNumber(mustSeq(good) - 1)
	regressJSON, err := regress.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	huge := func(withLength bool) http.HandlerFunc {
		const size = fed.DefaultMaxBundleSize + 1
		return func(w http.ResponseWriter, _ *http.Request) {
			if withLength {
				w.Header().Set("Content-Length", strconv.Itoa(size))
			}
			chunk := []byte(strings.Repeat(" ", 64<<10))
			for n := 0; n < size; n += len(chunk) {
				if _, err := w.Write(chunk[:min(len(chunk), size-n)]); err != nil {
					return
				}
			}
		}
	}

	tests := []struct {
		name    string
		profile string // datastore.ProfileHTTPSWeb (default) or ProfileHTTPSSPIFFE
		cert    func(*tls.ClientHelloInfo) (*tls.Certificate, error)
		handler http.HandlerFunc
		reason  string
	}{
		{name: "bundle of another trust domain", handler: body(cJSON), reason: fed.ReasonWrongTrustDomain},
		{name: "not JSON", handler: body([]byte("<html>hello</html>")), reason: fed.ReasonInvalidBundle},
		{name: "invalid JWKS", handler: body([]byte(`{"keys":[{"use":"x509-svid","kty":"EC","x5c":["bm90IGEgY2VydA=="]}]}`)), reason: fed.ReasonInvalidBundle},
		{name: "no authorities", handler: body([]byte(`{"keys":[]}`)), reason: fed.ReasonInvalidBundle},
		{name: "huge body, chunked", handler: huge(false), reason: fed.ReasonTooLarge},
		{name: "huge body, Content-Length", handler: huge(true), reason: fed.ReasonTooLarge},
		{name: "sequence regress", handler: body(regressJSON), reason: fed.ReasonSequenceRegress},
		{name: "server error", handler: func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "oops", 500) }, reason: fed.ReasonHTTPStatus},
		{name: "untrusted web certificate", cert: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &otherPair, nil },
			handler: body(goodJSON), reason: fed.ReasonTLS},
		{name: "wrong endpoint SPIFFE ID", profile: datastore.ProfileHTTPSSPIFFE, cert: b.svid(t, "/not/the/server"),
			handler: body(goodJSON), reason: fed.ReasonWrongEndpointID},
		{name: "SVID of another trust domain", profile: datastore.ProfileHTTPSSPIFFE, cert: c.svid(t, "/spire/server"),
			handler: body(goodJSON), reason: fed.ReasonTLS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newDomain(t, "a.test")
			a.setBundle(t, good)
			cert := tt.cert
			if cert == nil {
				cert = webCertGetter
			}
			addr := serveHTTPS(t, cert, tt.handler)
			rel := webRel(b.td, "https://localhost:"+addr[strings.LastIndexByte(addr, ':')+1:]+"/")
			if tt.profile == datastore.ProfileHTTPSSPIFFE {
				rel = spiffeRel(b, "https://"+addr+"/")
			}
			logs, log := newLogSink()
			reg := prometheus.NewRegistry()
			m := newManager(t, fed.ManagerConfig{TrustDomain: a.td, Bundles: a.store, WebPKIRoots: rootPool(web),
				Log: log, Registerer: reg, Static: []*datastore.FederationRelationship{rel}})

			err := m.RefreshBundle(context.Background(), b.td)
			var fe *fed.FetchError
			if !errors.As(err, &fe) || fe.Reason != tt.reason {
				t.Fatalf("RefreshBundle = %v, want a FetchError with reason %s", err, tt.reason)
			}
			if got := a.stored(t, b.td); !got.Equal(good) {
				t.Error("the good bundle was replaced")
			}
			if n := logs.count("keeping the last good bundle", "reason="+tt.reason, "trust_domain=b.test"); n != 1 {
				t.Errorf("log lines with the reason = %d, want 1; log:\n%s", n, logs)
			}
			if n := counter(t, reg, "svidkit_server_federation_fetch_failures_total", tt.reason); n != 1 {
				t.Errorf("failures{reason=%s} = %v, want 1", tt.reason, n)
			}
		})
	}
}

// TestManagerNeedsBootstrapBundle: https_spiffe cannot authenticate an
// endpoint without a stored bundle of its trust domain.
func TestManagerNeedsBootstrapBundle(t *testing.T) {
	a, b := newDomain(t, "a.test"), newDomain(t, "b.test")
	eB := startEndpoint(t, fed.EndpointConfig{Source: b.ca, SVID: b.svid(t, "/spire/server")})
	m := newManager(t, fed.ManagerConfig{TrustDomain: a.td, Bundles: a.store,
		Static: []*datastore.FederationRelationship{spiffeRel(b, endpointURL(eB))}})
	err := m.RefreshBundle(context.Background(), b.td)
	var fe *fed.FetchError
	if !errors.As(err, &fe) || fe.Reason != fed.ReasonNoBootstrap || !strings.Contains(err.Error(), "bundle set") {
		t.Fatalf("RefreshBundle = %v, want reason %s naming `bundle set`", err, fed.ReasonNoBootstrap)
	}
	if a.stored(t, b.td) != nil {
		t.Error("a bundle was stored without authentication")
	}
}
