package sds_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/svidkit/svidkit/pkg/sds"
)

// workloadTLS is what an Envoy would build from its SDS secrets.
type workloadTLS struct {
	cert    tls.Certificate
	bundles *x509bundle.Set
}

// fetchWorkloadTLS gets default and ROOTCA for the workload holding svid
// over a real SDS stream and builds TLS material from the secrets alone.
func fetchWorkloadTLS(t *testing.T, ca *testCA, svid sds.SVID) workloadTLS {
	t.Helper()
	c := openSotW(t, serve(t, sds.New(sds.Config{Source: newFakeSource(snapshot(ca, []sds.SVID{svid}))})), nil)
	c.subscribe("default", "ROOTCA")
	got := secrets(t, c.next().Resources)
	tc := got["default"].GetTlsCertificate()
	cert, err := tls.X509KeyPair(tc.GetCertificateChain().GetInlineBytes(), tc.GetPrivateKey().GetInlineBytes())
	if err != nil {
		t.Fatal(err)
	}
	return workloadTLS{cert: cert, bundles: bundlesFromSecret(t, got["ROOTCA"])}
}

// bundlesFromSecret reads the SPIFFE validator's trust domains and bundles.
func bundlesFromSecret(t *testing.T, s *tlsv3.Secret) *x509bundle.Set {
	t.Helper()
	cfg := &tlsv3.SPIFFECertValidatorConfig{}
	if err := s.GetValidationContext().GetCustomValidatorConfig().GetTypedConfig().UnmarshalTo(cfg); err != nil {
		t.Fatal(err)
	}
	set := x509bundle.NewSet()
	for _, td := range cfg.GetTrustDomains() {
		b, err := x509bundle.Parse(spiffeid.RequireTrustDomainFromString(td.GetName()), td.GetTrustBundle().GetInlineBytes())
		if err != nil {
			t.Fatal(err)
		}
		set.Add(b)
	}
	return set
}

// verifyPeer accepts a peer whose SVID chains to bundles and whose SPIFFE
// ID is one of allowed, as Envoy's SPIFFE validator plus a SAN matcher do.
func verifyPeer(bundles *x509bundle.Set, allowed ...string) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		certs := make([]*x509.Certificate, 0, len(raw))
		for _, r := range raw {
			c, err := x509.ParseCertificate(r)
			if err != nil {
				return err
			}
			certs = append(certs, c)
		}
		if len(certs) == 0 {
			return errors.New("no peer certificate")
		}
		id, _, err := x509svid.Verify(certs, bundles)
		if err != nil {
			return err
		}
		if !slices.Contains(allowed, id.String()) {
			return fmt.Errorf("peer %s is not allowed", id)
		}
		return nil
	}
}

func (w workloadTLS) server(allowed ...string) *tls.Config {
	return &tls.Config{
		Certificates:          []tls.Certificate{w.cert},
		ClientAuth:            tls.RequireAnyClientCert,
		VerifyPeerCertificate: verifyPeer(w.bundles, allowed...),
		MinVersion:            tls.VersionTLS12,
	}
}

func (w workloadTLS) client(allowed ...string) *tls.Config {
	return &tls.Config{
		Certificates:          []tls.Certificate{w.cert},
		InsecureSkipVerify:    true, // verification by SPIFFE ID in VerifyPeerCertificate
		VerifyPeerCertificate: verifyPeer(w.bundles, allowed...),
		MinVersion:            tls.VersionTLS12,
	}
}

// clientTrustingAnyone presents w's SVID but checks no server, so only the
// server's verdict decides the handshake.
func (w workloadTLS) clientTrustingAnyone() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{w.cert}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
}

// handshake runs an mTLS handshake over a real loopback TCP connection and
// returns the server's and client's errors.
func handshake(t *testing.T, server, client *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	done := make(chan error, 1)
	go func() {
		conn, err := lis.Accept()
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		done <- tls.Server(conn, server).HandshakeContext(context.Background())
	}()
	conn, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(conn, client)
	clientErr = tc.HandshakeContext(context.Background())
	if clientErr == nil {
		// TLS 1.3 clients finish before the server checks the client
		// certificate; a read surfaces the server's verdict.
		_, _ = tc.Read(make([]byte, 1))
	}
	conn.Close()
	return <-done, clientErr
}

func TestSecretsCompleteMTLS(t *testing.T) {
	ca := newCA(t, "example.org")
	web := fetchWorkloadTLS(t, ca, ca.svid(t, "spiffe://example.org/web"))
	api := fetchWorkloadTLS(t, ca, ca.svid(t, "spiffe://example.org/api"))
	evil := fetchWorkloadTLS(t, ca, ca.svid(t, "spiffe://example.org/evil"))
	stranger := fetchWorkloadTLS(t, newCA(t, "example.org"), newCA(t, "example.org").svid(t, "spiffe://example.org/web"))

	tests := []struct {
		name       string
		server     *tls.Config
		client     *tls.Config
		wantServer bool   // the server accepts
		wantErr    string // part of the server's error otherwise
	}{
		{name: "allowed caller", server: api.server("spiffe://example.org/web"), client: web.client("spiffe://example.org/api"), wantServer: true},
		{name: "caller outside allowed ids", server: api.server("spiffe://example.org/web"), client: evil.client("spiffe://example.org/api"),
			wantErr: "spiffe://example.org/evil is not allowed"},
		{name: "caller from another ca", server: api.server("spiffe://example.org/web"), client: stranger.clientTrustingAnyone(),
			wantErr: "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serverErr, clientErr := handshake(t, tt.server, tt.client)
			if tt.wantServer && (serverErr != nil || clientErr != nil) {
				t.Fatalf("handshake failed: server %v, client %v", serverErr, clientErr)
			}
			if !tt.wantServer && (serverErr == nil || !strings.Contains(serverErr.Error(), tt.wantErr)) {
				t.Fatalf("server error %v, want one containing %q", serverErr, tt.wantErr)
			}
		})
	}
}
