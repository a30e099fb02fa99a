package federation_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/federation"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/testca"
	fed "github.com/svidkit/svidkit/pkg/server/federation"
	"github.com/svidkit/svidkit/pkg/server/servingcert"
)

// TestEndpointServesGoSpiffeClient fetches the bundle with go-spiffe's
// federation client, as a foreign server would, over https_spiffe:
// the document is the CA's bundle with the configured refresh hint and
// its sequence number, and a CA rotation is served at once.
func TestEndpointServesGoSpiffeClient(t *testing.T) {
	a := newDomain(t, "a.test")
	e := startEndpoint(t, fed.EndpointConfig{Source: a.ca, RefreshHint: 90 * time.Second, SVID: a.svid(t, "/spire/server")})
	serverID := spiffeid.RequireFromPath(a.td, "/spire/server")

	check := func(want *spiffebundle.Bundle) {
		t.Helper()
		got, err := federation.FetchBundle(context.Background(), a.td, endpointURL(e), federation.WithSPIFFEAuth(want, serverID))
		if err != nil {
			t.Fatalf("FetchBundle: %v", err)
		}
		if hint, _ := got.RefreshHint(); hint != 90*time.Second {
			t.Errorf("refresh hint = %s, want 1m30s", hint)
		}
		wantSeq, _ := want.SequenceNumber()
		if seq, ok := got.SequenceNumber(); !ok || seq != wantSeq {
			t.Errorf("sequence = %d (%v), want %d", seq, ok, wantSeq)
		}
		want = want.Clone()
		want.SetRefreshHint(90 * time.Second)
		if !got.Equal(want) {
			t.Errorf("served bundle differs from the CA's")
		}
	}
	first := a.ca.Bundle()
	check(first)

	rotated := a.rotate(t)
	s1, _ := first.SequenceNumber()
	s2, _ := rotated.SequenceNumber()
	if s2 <= s1 {
		t.Fatalf("CA sequence %d not above %d", s2, s1)
	}
	waitServed(t, e, rotated)
	check(rotated)
}

// waitServed waits until the endpoint serves want's sequence number (the
// endpoint rebuilds its document on the CA's change signal).
func waitServed(t *testing.T, e *fed.Endpoint, want *spiffebundle.Bundle) {
	t.Helper()
	wantSeq, _ := want.SequenceNumber()
	deadline := time.Now().Add(waitTimeout)
	for {
		resp, body := get(t, e, "")
		var doc struct {
			Seq uint64 `json:"spiffe_sequence"`
		}
		if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &doc) == nil && doc.Seq == wantSeq {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("endpoint still serves sequence %d, want %d", doc.Seq, wantSeq)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// get sends GET / with an optional If-None-Match, skipping certificate
// checks (the tests of this file check the content, not the TLS).
func get(t testing.TB, e *fed.Endpoint, ifNoneMatch string) (*http.Response, []byte) {
	t.Helper()
	return do(t, e, http.MethodGet, "/", map[string]string{"If-None-Match": ifNoneMatch})
}

func do(t testing.TB, e *fed.Endpoint, method, path string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // content tests
	defer client.CloseIdleConnections()
	req, err := http.NewRequest(method, "https://"+e.Addr().String()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestEndpointETag(t *testing.T) {
	a := newDomain(t, "a.test")
	reg := prometheus.NewRegistry()
	e := startEndpoint(t, fed.EndpointConfig{Source: a.ca, SVID: a.svid(t, "/spire/server"), Registerer: reg})

	resp, body := get(t, e, "")
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusOK || etag == "" || len(body) == 0 {
		t.Fatalf("GET: %s, ETag %q, %d bytes", resp.Status, etag, len(body))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		resp, body = get(t, e, inm)
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %s, %d bytes, ETag %q; want 304, empty, same ETag", inm, resp.Status, len(body), resp.Header.Get("ETag"))
		}
	}
	if resp, _ = get(t, e, `"stale"`); resp.StatusCode != http.StatusOK {
		t.Errorf("If-None-Match \"stale\": %s, want 200", resp.Status)
	}

	rotated := a.rotate(t)
	waitServed(t, e, rotated)
	resp, _ = get(t, e, etag)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == etag {
		t.Errorf("after rotation, old ETag: %s with ETag %q; want 200 and a new ETag", resp.Status, resp.Header.Get("ETag"))
	}
	if n := counter(t, reg, "svidkit_server_federation_endpoint_requests_total", "304"); n != 4 {
		t.Errorf("304 requests counted = %v, want 4", n)
	}
}

// counter returns the value of the counter named name that has a label
// with value label (0 when absent).
func counter(t testing.TB, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestEndpointRefusesOtherRequests(t *testing.T) {
	a := newDomain(t, "a.test")
	e := startEndpoint(t, fed.EndpointConfig{Source: a.ca, SVID: a.svid(t, "/spire/server")})
	tests := []struct {
		name   string
		method string
		path   string
		hdr    map[string]string
		want   int
	}{
		{name: "post", method: http.MethodPost, path: "/", want: http.StatusMethodNotAllowed},
		{name: "other path", method: http.MethodGet, path: "/keys", want: http.StatusNotFound},
		{name: "head", method: http.MethodHead, path: "/", want: http.StatusOK},
		{name: "huge header", method: http.MethodGet, path: "/", hdr: map[string]string{"X-Big": strings.Repeat("a", 64<<10)},
			want: http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := do(t, e, tt.method, tt.path, tt.hdr)
			if resp.StatusCode != tt.want {
				t.Errorf("%s %s: %s, want %d", tt.method, tt.path, resp.Status, tt.want)
			}
		})
	}
}

// TestEndpointTLSVersion checks that TLS 1.1 is refused.
func TestEndpointTLSVersion(t *testing.T) {
	a := newDomain(t, "a.test")
	e := startEndpoint(t, fed.EndpointConfig{Source: a.ca, SVID: a.svid(t, "/spire/server")})
	conn, err := tls.Dial("tcp", e.Addr().String(), &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}) //nolint:gosec // probing
	if err == nil {
		conn.Close()
		t.Fatal("TLS 1.1 handshake succeeded")
	}
}

// TestEndpointHTTPSWebReload serves https_web with a certificate from
// files and checks that a new pair written over them is served after the
// next sync, verified against the Web PKI root as a foreign server would.
func TestEndpointHTTPSWebReload(t *testing.T) {
	a := newDomain(t, "a.test")
	web := testca.NewForTest(t, "web.test")
	dir := t.TempDir()
	certFile, keyFile, first := webCert(t, web, dir, "first")
	logs, log := newLogSink()
	e := startEndpoint(t, fed.EndpointConfig{Source: a.ca, Log: log, ServingCertFile: &servingcert.Config{
		CertFile: certFile, KeyFile: keyFile, SyncInterval: 20 * time.Millisecond}})
	url := "https://localhost:" + portOf(e) + "/"

	served := func() string {
		conn, err := tls.Dial("tcp", e.Addr().String(), &tls.Config{RootCAs: rootPool(web), ServerName: "localhost"})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	if got := served(); got != first.SerialNumber.String() {
		t.Fatalf("serving serial %s, want %s", got, first.SerialNumber)
	}
	if _, err := federation.FetchBundle(context.Background(), a.td, url, federation.WithWebPKIRoots(rootPool(web))); err != nil {
		t.Fatalf("FetchBundle over https_web: %v", err)
	}

	// A broken pair is not loaded: the previous certificate stays.
	writeAtomic(t, certFile, []byte("not a certificate"), 0o644)
	logs.waitCount(t, 1, "the previous one stays in use")
	if got := served(); got != first.SerialNumber.String() {
		t.Fatalf("after a broken write, serving serial %s, want the previous %s", got, first.SerialNumber)
	}
	_, _, second := webCert(t, web, dir, "second")
	deadline := time.Now().Add(waitTimeout)
	for served() != second.SerialNumber.String() {
		if time.Now().After(deadline) {
			t.Fatal("new certificate not served")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func portOf(e *fed.Endpoint) string {
	s := e.Addr().String()
	return s[strings.LastIndexByte(s, ':')+1:]
}

// TestEndpointConnectionLimit: with MaxConnections 1, a second client is
// not served while the first holds its connection, and is once it closes.
func TestEndpointConnectionLimit(t *testing.T) {
	a := newDomain(t, "a.test")
	e := startEndpoint(t, fed.EndpointConfig{Source: a.ca, SVID: a.svid(t, "/spire/server"), MaxConnections: 1})
	dial := func(timeout time.Duration) (*tls.Conn, error) {
		d := &net.Dialer{Timeout: timeout}
		conn, err := tls.DialWithDialer(d, "tcp", e.Addr().String(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // limit test
		return conn, err
	}
	first, err := dial(waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	// The kernel accepts the TCP connection, but the endpoint does not
	// take it, so the TLS handshake cannot complete while first is open.
	if second, err := dial(200 * time.Millisecond); err == nil {
		second.Close()
		t.Fatal("a second connection was served beyond MaxConnections")
	}
	first.Close()
	third, err := dial(waitTimeout)
	if err != nil {
		t.Fatalf("after the first connection closed: %v", err)
	}
	third.Close()
}
