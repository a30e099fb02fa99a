package oidc_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/internal/testclock"
	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/oidc"
)

const issuer = "https://oidc.test"

var workload = spiffeid.RequireFromPath(td, "/workload")

func signJWT(t testing.TB, m interface {
	SignJWTSVID(context.Context, ca.JWTSVIDParams) (string, error)
}, aud string) string {
	t.Helper()
	tok, err := m.SignJWTSVID(context.Background(), ca.JWTSVIDParams{SPIFFEID: workload, Audience: []string{aud}})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func kidOf(t testing.TB, token string) string {
	t.Helper()
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}

type jwks struct {
	Keys []map[string]any `json:"keys"`
}

// fetchKeys GETs base + /keys.
func fetchKeys(t testing.TB, c *http.Client, base string, header map[string]string) (int, http.Header, jwks) {
	t.Helper()
	code, h, body := get(t, c, http.MethodGet, base+oidc.KeysPath, header)
	var set jwks
	if code == http.StatusOK {
		if err := json.Unmarshal(body, &set); err != nil {
			t.Fatalf("JWKS %s: %v", body, err)
		}
	}
	return code, h, set
}

// TestGoOIDCVerifiesAcrossRotation: go-oidc, a relying party nobody here
// wrote, discovers the issuer over TLS, fetches the keys and verifies a
// JWT-SVID the CA signed; after the CA rotates its JWT key it verifies a
// token signed with the new key (fetching the keys again for the unknown
// kid) and still the old token's signature; a token from another CA with
// the same issuer is refused.
func TestGoOIDCVerifiesAcrossRotation(t *testing.T) {
	clock := testclock.New(time.Now().Truncate(time.Second))
	startTime := clock.Now()
	m := newCA(t, clock, issuer, 0)
	cert, roots := webCert(t, "oidc.test")
	logs := newLogRecorder()
	s := start(t, oidc.Config{Address: "127.0.0.1:0", Issuer: issuer, GetCertificate: cert.GetCertificate, Keys: m, Log: logs.logger()})

	ctx := gooidc.ClientContext(context.Background(), client(s.Addr(), roots))
	provider, err := gooidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	verifier := provider.VerifierContext(ctx, &gooidc.Config{ClientID: "sts.amazonaws.com", Now: clock.Now})

	first := signJWT(t, m, "sts.amazonaws.com")
	tok, err := verifier.Verify(ctx, first)
	if err != nil {
		t.Fatalf("go-oidc refused the CA's JWT-SVID: %v", err)
	}
	if tok.Subject != workload.String() || tok.Issuer != issuer {
		t.Fatalf("verified token sub %q iss %q, want %q and %q", tok.Subject, tok.Issuer, workload, issuer)
	}

	// Prepare the next key (published, a new key set served), then
	// activate it (no bundle change).
	logs.drain()
	clock.Set(startTime.Add(ca.DefaultCATTL / 2))
	if err := m.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, "key set updated")
	clock.Set(startTime.Add(ca.DefaultCATTL / 6 * 5))
	if err := m.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	second := signJWT(t, m, "sts.amazonaws.com")
	if kidOf(t, second) == kidOf(t, first) {
		t.Fatal("the CA did not rotate its JWT key")
	}
	if _, err := verifier.Verify(ctx, second); err != nil {
		t.Fatalf("go-oidc refused a token signed with the rotated key: %v", err)
	}
	old := provider.VerifierContext(ctx, &gooidc.Config{ClientID: "sts.amazonaws.com", SkipExpiryCheck: true})
	if _, err := old.Verify(ctx, first); err != nil {
		t.Fatalf("go-oidc refused the first token's signature while its key is still published: %v", err)
	}

	other := testca.NewForTest(t, td.Name())
	forged := signJWT(t, other, "sts.amazonaws.com")
	if _, err := verifier.Verify(ctx, forged); err == nil {
		t.Fatal("go-oidc accepted a token signed by a key the endpoint does not serve")
	}
}

// TestKeySet: every bundle key is served with kid, kty and the JWS
// algorithm (ES256 for the default key type, RS256 and ES384 for the
// others), "use": "sig" only with SetKeyUse; Cache-Control lets caches
// keep the set only with revalidation, and the ETag turns a revalidation
// into a 304 until the key set changes.
func TestKeySet(t *testing.T) {
	for _, tc := range []struct {
		keyType, alg string
		setUse       bool
	}{
		{"ec-p256", "ES256", false},
		{"ec-p384", "ES384", true},
		{"rsa-2048", "RS256", false},
	} {
		t.Run(tc.keyType, func(t *testing.T) {
			clock := testclock.New(time.Now())
			m := newCAKeyType(t, clock, tc.keyType)
			logs := newLogRecorder()
			cfg := insecureConfig(m, "http://oidc.test")
			cfg.SetKeyUse = tc.setUse
			cfg.Log = logs.logger()
			s := start(t, cfg)
			c := client(s.Addr(), nil)

			code, h, set := fetchKeys(t, c, "http://oidc.test", nil)
			if code != http.StatusOK || len(set.Keys) != 1 {
				t.Fatalf("status %d, %d keys; want 200 and 1", code, len(set.Keys))
			}
			k := set.Keys[0]
			if k["kid"] != kidOf(t, signJWT(t, m, "a")) || k["alg"] != tc.alg {
				t.Errorf("key kid %v alg %v; want the signing key's and %s", k["kid"], k["alg"], tc.alg)
			}
			if use, ok := k["use"]; ok != tc.setUse || (ok && use != "sig") {
				t.Errorf("use = %v (present %v), want sig only with set_key_use", use, ok)
			}
			if cc := h.Get("Cache-Control"); cc != "no-cache" {
				t.Errorf("Cache-Control = %q, want no-cache", cc)
			}
			etag := h.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			if code, _, _ := fetchKeys(t, c, "http://oidc.test", map[string]string{"If-None-Match": etag}); code != http.StatusNotModified {
				t.Fatalf("revalidation with the current ETag: status %d, want 304", code)
			}

			logs.drain()
			clock.Add(ca.DefaultCATTL / 2)
			if err := m.Rotate(context.Background()); err != nil {
				t.Fatal(err)
			}
			logs.wait(t, "key set updated")
			code, h, set = fetchKeys(t, c, "http://oidc.test", map[string]string{"If-None-Match": etag})
			if code != http.StatusOK || len(set.Keys) != 2 || h.Get("ETag") == etag {
				t.Fatalf("after rotation: status %d, %d keys, ETag %s; want 200, 2 keys, a new ETag", code, len(set.Keys), h.Get("ETag"))
			}
		})
	}
}

// TestKeySetCap: a bundle with more JWT keys than MaxKeys (here 150 keys
// left by other servers plus the CA's own) is served as the newest 100,
// the CA's signing key first, so tokens still verify; the cut is logged
// and reported in the jwks_keys and jwks_keys_dropped gauges.
func TestKeySetCap(t *testing.T) {
	clock := testclock.New(time.Now())
	m := newCA(t, clock, issuer, 150)
	if n := len(m.JWTAuthorities()); n != 151 {
		t.Fatalf("CA publishes %d JWT keys, want 151", n)
	}
	cert, roots := webCert(t, "oidc.test")
	logs := newLogRecorder()
	reg := prometheus.NewRegistry()
	s := start(t, oidc.Config{Address: "127.0.0.1:0", Issuer: issuer, GetCertificate: cert.GetCertificate,
		Keys: m, Log: logs.logger(), Registerer: reg})
	logs.wait(t, "more JWT keys than")
	c := client(s.Addr(), roots)

	_, _, set := fetchKeys(t, c, issuer, nil)
	if len(set.Keys) != oidc.DefaultMaxKeys {
		t.Fatalf("JWKS holds %d keys, want %d", len(set.Keys), oidc.DefaultMaxKeys)
	}
	token := signJWT(t, m, "aud")
	if set.Keys[0]["kid"] != kidOf(t, token) {
		t.Errorf("first key %v, want the signing key %s", set.Keys[0]["kid"], kidOf(t, token))
	}
	if got := gauge(t, reg, "svidkit_server_oidc_jwks_keys"); got != 100 {
		t.Errorf("jwks_keys = %v, want 100", got)
	}
	if got := gauge(t, reg, "svidkit_server_oidc_jwks_keys_dropped"); got != 51 {
		t.Errorf("jwks_keys_dropped = %v, want 51", got)
	}
	ctx := gooidc.ClientContext(context.Background(), c)
	provider, err := gooidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.VerifierContext(ctx, &gooidc.Config{ClientID: "aud"}).Verify(ctx, token); err != nil {
		t.Fatalf("go-oidc refused a token from the capped key set: %v", err)
	}
}
