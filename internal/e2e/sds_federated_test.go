package e2e_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"slices"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/internal/testenv"
)

// validatorTrustDomains returns the trust domains of a validation context
// secret's SPIFFE certificate validator with the roots of each, failing
// when the secret is not one.
func validatorTrustDomains(t *testing.T, s *tlsv3.Secret) map[string][]*x509.Certificate {
	t.Helper()
	cfg := s.GetValidationContext().GetCustomValidatorConfig()
	if cfg.GetName() != "envoy.tls.cert_validator.spiffe" {
		t.Fatalf("secret %q: validator %q, want the SPIFFE validator", s.GetName(), cfg.GetName())
	}
	spiffe := &tlsv3.SPIFFECertValidatorConfig{}
	if err := cfg.GetTypedConfig().UnmarshalTo(spiffe); err != nil {
		t.Fatalf("secret %q: %v", s.GetName(), err)
	}
	out := make(map[string][]*x509.Certificate)
	for _, td := range spiffe.GetTrustDomains() {
		rest := td.GetTrustBundle().GetInlineBytes()
		for {
			var block *pem.Block
			if block, rest = pem.Decode(rest); block == nil {
				break
			}
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatalf("secret %q, trust domain %q: %v", s.GetName(), td.GetName(), err)
			}
			out[td.GetName()] = append(out[td.GetName()], c)
		}
	}
	return out
}

// TestAgentSDSServesFederatedBundles: an Envoy-like SDS client on the
// agent's socket, whose workload's entry federates with foreignTD, gets
// the foreign bundle under both spellings of its name and within ALL, each
// trust domain its own entry of the SPIFFE validator; a trust domain its
// entries do not name is never served, though the server holds its
// bundle; a foreign rotation written to the store is pushed as a new
// version.
func TestAgentSDSServesFederatedBundles(t *testing.T) {
	srv := startServer(t, testenv.Options{})
	store := srv.OpenStore(t)
	v1, v2 := testca.NewForTest(t, foreignTD).Bundle(), testca.NewForTest(t, foreignTD).Bundle()
	testenv.SetBundle(t, store, v1)
	testenv.SetBundle(t, store, testca.NewForTest(t, "unnamed.test").Bundle())
	ag := srv.StartAgent(t, "a", srv.JoinToken(t, "/node"))
	en := workloadEntry("/node", "/envoy", 0)
	en.FederatesWith = []string{foreignTD}
	srv.CreateEntry(t, en)

	conn, err := grpc.NewClient("unix://"+ag.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := secretv3.NewSecretDiscoveryServiceClient(conn).StreamSecrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"default", foreignTD, "spiffe://" + foreignTD, "ALL", "unnamed.test"}
	node := &corev3.Node{Id: "envoy-e2e", Cluster: "e2e"}
	send := func(version, nonce string) {
		t.Helper()
		if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: secretTypeURL, ResourceNames: names, VersionInfo: version, ResponseNonce: nonce}); err != nil {
			t.Fatal(err)
		}
	}
	// next returns the next response whose foreign secrets carry want's
	// roots, checking every response on the way.
	next := func(want *spiffebundle.Bundle) string {
		t.Helper()
		for {
			resp, err := stream.Recv()
			if err != nil {
				t.Fatalf("Recv: %v", err)
			}
			send(resp.VersionInfo, resp.Nonce)
			secrets := map[string]*tlsv3.Secret{}
			for _, r := range resp.Resources {
				s := &tlsv3.Secret{}
				if err := r.UnmarshalTo(s); err != nil {
					t.Fatal(err)
				}
				secrets[s.Name] = s
			}
			if secrets["unnamed.test"] != nil {
				t.Fatal("served the bundle of a trust domain no entry of the workload names")
			}
			if secrets[foreignTD] == nil || secrets["spiffe://"+foreignTD] == nil || secrets["ALL"] == nil {
				continue // served once the agent has the bundle
			}
			all := validatorTrustDomains(t, secrets["ALL"])
			if got := slices.Sorted(maps.Keys(all)); !slices.Equal(got, []string{trustDomain, foreignTD}) {
				t.Fatalf("ALL validator trust domains %v, want %s and %s", got, foreignTD, trustDomain)
			}
			for _, name := range []string{foreignTD, "spiffe://" + foreignTD} {
				tds := validatorTrustDomains(t, secrets[name])
				if len(tds) != 1 || tds[foreignTD] == nil {
					t.Fatalf("secret %q validator trust domains %v, want only %s", name, slices.Sorted(maps.Keys(tds)), foreignTD)
				}
				if !slices.EqualFunc(tds[foreignTD], all[foreignTD], (*x509.Certificate).Equal) {
					t.Fatalf("secret %q and ALL disagree on %s's roots", name, foreignTD)
				}
			}
			if slices.EqualFunc(all[foreignTD], want.X509Authorities(), (*x509.Certificate).Equal) {
				return resp.VersionInfo
			}
		}
	}
	send("", "")
	first := next(v1)
	testenv.SetBundle(t, store, v2)
	if rotated := next(v2); rotated == first {
		t.Fatal("rotated foreign bundle served under the same version")
	}
}
