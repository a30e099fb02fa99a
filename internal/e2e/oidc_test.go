package e2e_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
	"github.com/svidkit/svidkit/pkg/serverd"
)

// relyingParty is an OIDC relying party (go-oidc) that reaches the
// endpoint at addr whatever host the issuer URL names, trusting roots for
// HTTPS.
type relyingParty struct {
	ctx    context.Context
	client *http.Client
}

func newRelyingParty(addr string, roots *x509.CertPool) relyingParty {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: roots},
	}}
	return relyingParty{ctx: gooidc.ClientContext(context.Background(), client), client: client}
}

// verify discovers issuer afresh and verifies token for audience.
func (rp relyingParty) verify(t *testing.T, issuer, audience, token string) *gooidc.IDToken {
	t.Helper()
	provider, err := gooidc.NewProvider(rp.ctx, issuer)
	if err != nil {
		t.Fatalf("go-oidc discovery of %s: %v", issuer, err)
	}
	tok, err := provider.VerifierContext(rp.ctx, &gooidc.Config{ClientID: audience}).Verify(rp.ctx, token)
	if err != nil {
		t.Fatalf("go-oidc refused the JWT-SVID: %v", err)
	}
	return tok
}

// keyIDs returns the kids of the JWKS the endpoint serves at url.
func (rp relyingParty) keyIDs(t *testing.T, url string) []string {
	t.Helper()
	resp, err := rp.client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", url, resp.StatusCode, body, err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

// fetchJWT fetches a JWT-SVID for audience through the Workload API.
func fetchJWT(t *testing.T, c *workloadapi.Client, audience string) *jwtsvid.SVID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	svid, err := c.FetchJWTSVID(ctx, jwtsvid.Params{Audience: audience})
	if err != nil {
		t.Fatalf("FetchJWTSVID(%q): %v", audience, err)
	}
	return svid
}

func kid(t *testing.T, token string) string {
	t.Helper()
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}

// servingCert writes a certificate for host from a test CA standing in for
// the web PKI, and returns the files and the pool trusting it.
func servingCert(t *testing.T, host string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	web := testca.NewForTest(t, "web.test")
	key := testca.NewKey(t)
	chain, err := web.SignX509SVID(context.Background(), ca.X509SVIDParams{SPIFFEID: web.TrustDomain().ID(), PublicKey: key.Public(), DNSNames: []string{host}})
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[0].Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(web.Root())
	return certFile, keyFile, roots
}

// TestOIDCDiscovery: a workload's JWT-SVID, fetched through go-spiffe's
// Workload API client from the real agent, is verified by go-oidc against
// the real server's OIDC discovery endpoint over HTTPS (issuer discovered,
// keys fetched, iss and aud checked). With 150 more JWT keys in the stored
// bundle (as several servers sharing a datastore leave), the endpoint
// serves 100, the signing key among them, and tokens still verify.
func TestOIDCDiscovery(t *testing.T) {
	port := testenv.FreePort(t)
	issuer := "https://oidc.e2e.test:" + strconv.Itoa(port)
	certFile, keyFile, roots := servingCert(t, "oidc.e2e.test")
	s := startServer(t, testenv.Options{ServerConfig: func(c *config.Server) {
		c.JWTIssuer = issuer
		c.OIDCDiscovery = &config.OIDCDiscovery{
			Address: "127.0.0.1", Port: port,
			ServingCertFile: &config.ServingCertFile{CertFilePath: certFile, KeyFilePath: keyFile, FileSyncInterval: time.Minute},
		}
	}})
	ag := s.StartAgent(t, "a", s.JoinToken(t, "/node"))
	s.CreateEntry(t, workloadEntry("/node", "/app", 0))
	c := ag.Client(t)
	rp := newRelyingParty(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), roots)
	appID := "spiffe://" + trustDomain + "/app"

	svid := fetchJWT(t, c, "sts.amazonaws.com")
	tok := rp.verify(t, issuer, "sts.amazonaws.com", svid.Marshal())
	if tok.Subject != appID || tok.Issuer != issuer {
		t.Fatalf("verified sub %q iss %q, want %q and %q", tok.Subject, tok.Issuer, appID, issuer)
	}

	t.Run("key set capped at 100", func(t *testing.T) {
		bundles := watchJWTBundles(t, c)
		s.Stop()
		addStoredJWTKeys(t, s.Layout.ServerConfig(0).DataStore.ConnectionString, 150)
		s.Restart(t)
		bundles.waitFor(t, 30*time.Second, "the agent to receive the 151 JWT keys", func(b *jwtbundle.Bundle) bool {
			return len(b.JWTAuthorities()) == 151
		})
		kids := rp.keyIDs(t, issuer+"/keys")
		if len(kids) != 100 {
			t.Fatalf("JWKS holds %d keys, want 100", len(kids))
		}
		svid := fetchJWT(t, c, "after-restart")
		if kids[0] != kid(t, svid.Marshal()) {
			t.Errorf("first JWKS key %s, want the signing key %s", kids[0], kid(t, svid.Marshal()))
		}
		rp.verify(t, issuer, "after-restart", svid.Marshal())
	})
}

// addStoredJWTKeys adds n JWT keys to the trust domain's bundle in the
// stopped server's datastore.
func addStoredJWTKeys(t *testing.T, conn string, n int) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, conn, testenv.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rec, err := store.GetBundle(ctx, trustDomain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := spiffebundle.Parse(spiffeid.RequireTrustDomainFromString(trustDomain), rec.Data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		key := testca.NewKey(t)
		if err := b.AddJWTAuthority(fmt.Sprintf("other-server-%03d", i), key.Public()); err != nil {
			t.Fatal(err)
		}
	}
	data, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SetBundle(ctx, &datastore.Bundle{TrustDomain: trustDomain, Data: data}); err != nil {
		t.Fatal(err)
	}
}

// jwtBundleWatcher passes every JWT bundle update to a channel holding the
// newest.
type jwtBundleWatcher chan *jwtbundle.Set

func (w jwtBundleWatcher) OnJWTBundlesUpdate(s *jwtbundle.Set) {
	select {
	case <-w:
	default:
	}
	w <- s
}
func (w jwtBundleWatcher) OnJWTBundlesWatchError(error) {}

// watchJWTBundles watches c's JWT bundles until the test ends.
func watchJWTBundles(t *testing.T, c *workloadapi.Client) jwtBundleWatcher {
	t.Helper()
	w := make(jwtBundleWatcher, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.WatchJWTBundles(ctx, w) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// waitFor waits for a JWT bundle of the trust domain satisfying cond.
func (w jwtBundleWatcher) waitFor(t *testing.T, timeout time.Duration, what string, cond func(*jwtbundle.Bundle) bool) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case set := <-w:
			b, err := set.GetJWTBundleForTrustDomain(spiffeid.RequireTrustDomainFromString(trustDomain))
			if err == nil && cond(b) {
				return
			}
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// TestOIDCDiscoveryKeyRotation: with a 36s CA lifetime the server
// prepares a new JWT key at half life, signs with it from 5/6 and drops
// the old one when it expires. go-oidc, against the endpoint served as
// plain HTTP on loopback (allow_insecure_scheme), verifies a token of the
// first key and, once the agent's JWT bundle no longer holds that key, a
// fresh token of the new key (go-oidc fetches the keys again for the new
// kid). Takes about 40s: the CA checks rotation every 10s.
func TestOIDCDiscoveryKeyRotation(t *testing.T) {
	port := testenv.FreePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	issuer := "http://" + addr
	// An expired key stays one CA lifetime (for ca_ttl under 24 h; SPIRE's
	// 24 h otherwise); the CA checks its schedule every second so that it
	// leaves 72 s after the start, not up to 10 s later.
	s := startServer(t, testenv.Options{CATTL: 36 * time.Second, SVIDTTL: 10 * time.Second, CARotationCheckInterval: time.Second, ServerConfig: func(c *config.Server) {
		c.AgentTTL = 10 * time.Second
		c.OIDCDiscovery = &config.OIDCDiscovery{Address: "127.0.0.1", Port: port, JWTIssuer: issuer, AllowInsecureScheme: true}
	}})
	ag := s.StartAgent(t, "a", s.JoinToken(t, "/node"))
	s.CreateEntry(t, workloadEntry("/node", "/app", 0))
	c := ag.Client(t)
	rp := newRelyingParty(addr, nil)

	first := fetchJWT(t, c, "before")
	rp.verify(t, issuer, "before", first.Marshal())
	firstKID := kid(t, first.Marshal())

	watchJWTBundles(t, c).waitFor(t, 150*time.Second, "the first JWT key to leave the agent's bundle", func(b *jwtbundle.Bundle) bool {
		_, has := b.FindJWTAuthority(firstKID)
		return !has && len(b.JWTAuthorities()) > 0
	})
	second := fetchJWT(t, c, "after")
	if kid(t, second.Marshal()) == firstKID {
		t.Fatal("the server still signs with the expired key")
	}
	tok := rp.verify(t, issuer, "after", second.Marshal())
	if tok.Issuer != issuer {
		t.Fatalf("iss %q, want %q", tok.Issuer, issuer)
	}
}

// TestOIDCDiscoveryPlainHTTPOffLoopback: the daemon refuses to start an
// OIDC endpoint serving plain HTTP on a non-loopback address, even with
// allow_insecure_scheme and without going through config validation.
func TestOIDCDiscoveryPlainHTTPOffLoopback(t *testing.T) {
	l := testenv.NewLayout(t, spiffeid.RequireTrustDomainFromString(trustDomain))
	cfg := l.ServerConfig(0)
	cfg.OIDCDiscovery = &config.OIDCDiscovery{Address: "0.0.0.0", Port: 0, JWTIssuer: "http://oidc.e2e.test", AllowInsecureScheme: true}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("Validate = %v, want a loopback error", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := serverd.Run(ctx, cfg, serverd.Options{Log: testenv.Logger()})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("serverd.Run = %v, want a loopback error", err)
	}
}
