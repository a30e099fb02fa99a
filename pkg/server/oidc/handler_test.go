package oidc_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/testclock"
	"github.com/svidkit/svidkit/pkg/server/oidc"
)

// insecureConfig is an endpoint on loopback plain HTTP for issuer.
func insecureConfig(keys oidc.KeySource, issuer string) oidc.Config {
	return oidc.Config{Address: "127.0.0.1:0", Issuer: issuer, AllowInsecureScheme: true, Keys: keys}
}

// TestDiscoveryDocument: the document has exactly the fields and values
// SPIRE's oidc-discovery-provider writes, with jwks_uri derived from the
// issuer as SPIRE derives it from jwt_issuer, or as configured; an issuer
// with a path is served under that path too.
func TestDiscoveryDocument(t *testing.T) {
	m := newCA(t, testclock.New(time.Now()), "", 0)
	for _, tc := range []struct {
		name, issuer, jwksURI string
		path                  string // where the document is fetched
		wantJWKS              string
	}{
		{"issuer without path", "https://oidc.test", "", oidc.DiscoveryPath, "https://oidc.test/keys"},
		{"issuer with port", "https://oidc.test:8443", "", oidc.DiscoveryPath, "https://oidc.test:8443/keys"},
		{"issuer with path, at the root", "https://oidc.test/td1", "", oidc.DiscoveryPath, "https://oidc.test/td1/keys"},
		{"issuer with path, under it", "https://oidc.test/td1", "", "/td1" + oidc.DiscoveryPath, "https://oidc.test/td1/keys"},
		{"issuer path that is no routing pattern", "https://oidc.test/{td", "", "/{td" + oidc.DiscoveryPath, "https://oidc.test/%7Btd/keys"},
		{"jwks_uri configured", "https://oidc.test", "https://cdn.oidc.test/jwks.json", oidc.DiscoveryPath, "https://cdn.oidc.test/jwks.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := insecureConfig(m, tc.issuer)
			cfg.JWKSURI = tc.jwksURI
			s := start(t, cfg)
			code, h, body := get(t, client(s.Addr(), nil), http.MethodGet, "http://oidc.test"+tc.path, nil)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			if ct := h.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"issuer":                                tc.issuer,
				"jwks_uri":                              tc.wantJWKS,
				"authorization_endpoint":                "",
				"response_types_supported":              []any{"id_token"},
				"subject_types_supported":               []any{"public"},
				"id_token_signing_alg_values_supported": []any{"RS256", "ES256", "ES384"},
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("document = %s\nwant %v", body, want)
			}
		})
	}
}

// TestHostAllowList: the discovery document is served only when the Host,
// or the X-Forwarded-Host a proxy sets in its place, is an allowed domain
// (any port, any case); anything else gets 400 as from SPIRE's provider.
// /keys is not host-checked, as in SPIRE.
func TestHostAllowList(t *testing.T) {
	m := newCA(t, testclock.New(time.Now()), "", 0)
	cfg := insecureConfig(m, "http://oidc.test")
	cfg.Domains = []string{"oidc.test", "alias.oidc.test"}
	s := start(t, cfg)
	c := client(s.Addr(), nil)
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"allowed host", map[string]string{"Host": "oidc.test"}, http.StatusOK},
		{"allowed host with port", map[string]string{"Host": "oidc.test:8443"}, http.StatusOK},
		{"second allowed host", map[string]string{"Host": "alias.oidc.test"}, http.StatusOK},
		{"allowed host in upper case", map[string]string{"Host": "OIDC.Test"}, http.StatusOK},
		{"unknown host", map[string]string{"Host": "evil.test"}, http.StatusBadRequest},
		{"IP address", map[string]string{"Host": "127.0.0.1"}, http.StatusBadRequest},
		{"suffix of an allowed host", map[string]string{"Host": "test"}, http.StatusBadRequest},
		{"allowed forwarded host", map[string]string{"Host": "internal.test", "X-Forwarded-Host": "oidc.test"}, http.StatusOK},
		{"unknown forwarded host", map[string]string{"Host": "oidc.test", "X-Forwarded-Host": "evil.test"}, http.StatusBadRequest},
		{"forwarded host list", map[string]string{"Host": "oidc.test", "X-Forwarded-Host": "oidc.test, evil.test"}, http.StatusBadRequest},
		{"unicode host", map[string]string{"Host": "öidc.test"}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := get(t, c, http.MethodGet, "http://oidc.test"+oidc.DiscoveryPath, tc.header)
			if code != tc.want {
				t.Fatalf("status %d (%s), want %d", code, strings.TrimSpace(string(body)), tc.want)
			}
		})
	}
	t.Run("keys are served to any host", func(t *testing.T) {
		code, _, _ := get(t, c, http.MethodGet, "http://oidc.test"+oidc.KeysPath, map[string]string{"Host": "evil.test"})
		if code != http.StatusOK {
			t.Fatalf("status %d, want 200", code)
		}
	})
}

// TestMethodsAndPaths: GET and HEAD only (405 with Allow otherwise), 404
// for anything but the two documents.
func TestMethodsAndPaths(t *testing.T) {
	m := newCA(t, testclock.New(time.Now()), "", 0)
	s := start(t, insecureConfig(m, "http://oidc.test"))
	c := client(s.Addr(), nil)
	for _, tc := range []struct {
		method, path string
		want         int
		wantBody     bool
	}{
		{http.MethodGet, oidc.KeysPath, http.StatusOK, true},
		{http.MethodHead, oidc.KeysPath, http.StatusOK, false},
		{http.MethodHead, oidc.DiscoveryPath, http.StatusOK, false},
		{http.MethodPost, oidc.KeysPath, http.StatusMethodNotAllowed, true},
		{http.MethodPut, oidc.DiscoveryPath, http.StatusMethodNotAllowed, true},
		{http.MethodDelete, oidc.KeysPath, http.StatusMethodNotAllowed, true},
		{http.MethodGet, "/", http.StatusNotFound, true},
		{http.MethodGet, "/keys/extra", http.StatusNotFound, true},
		{http.MethodGet, "/.well-known/other", http.StatusNotFound, true},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			code, h, body := get(t, c, tc.method, "http://oidc.test"+tc.path, nil)
			if code != tc.want {
				t.Fatalf("status %d, want %d", code, tc.want)
			}
			if (len(body) > 0) != tc.wantBody {
				t.Errorf("body of %d bytes, want body: %v", len(body), tc.wantBody)
			}
			if code == http.StatusMethodNotAllowed && !strings.Contains(h.Get("Allow"), "GET") {
				t.Errorf("Allow = %q, want GET, HEAD", h.Get("Allow"))
			}
		})
	}
}
