package e2e_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svidkit/svidkit/internal/testenv"
)

const secretTypeURL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

// TestAgentServesSDS: an Envoy-like client on the agent's Workload API
// socket gets its SVID ("default") and trust bundle ("ROOTCA") over SDS v3,
// as from SPIRE's agent, and a rotated SVID as a new version.
func TestAgentServesSDS(t *testing.T) {
	e := startServer(t, testenv.Options{SVIDTTL: 4 * time.Second})
	ag := e.StartAgent(t, "a", e.JoinToken(t, "/node"))
	e.CreateEntry(t, workloadEntry("/node", "/envoy", 4))

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
	node := &corev3.Node{Id: "envoy-e2e", Cluster: "e2e"}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: secretTypeURL, ResourceNames: []string{"default", "ROOTCA"}}); err != nil {
		t.Fatal(err)
	}

	var (
		firstSerial string
		version     string
	)
	for {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		secrets := map[string]*tlsv3.Secret{}
		for _, r := range resp.Resources {
			s := &tlsv3.Secret{}
			if err := r.UnmarshalTo(s); err != nil {
				t.Fatal(err)
			}
			secrets[s.Name] = s
		}
		// ACK what we got.
		if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: secretTypeURL, ResourceNames: []string{"default", "ROOTCA"},
			VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce}); err != nil {
			t.Fatal(err)
		}
		def, ok := secrets["default"]
		if !ok || secrets["ROOTCA"] == nil {
			continue // served once the SVID is minted
		}
		leaf := parseLeaf(t, def.GetTlsCertificate().GetCertificateChain().GetInlineBytes())
		if got := leaf.URIs[0].String(); got != "spiffe://"+trustDomain+"/envoy" {
			t.Fatalf("default SVID is %s", got)
		}
		if firstSerial == "" {
			firstSerial, version = leaf.SerialNumber.String(), resp.VersionInfo
			continue
		}
		if leaf.SerialNumber.String() != firstSerial {
			if resp.VersionInfo == version {
				t.Fatal("rotated SVID served under the same version")
			}
			return // rotation pushed over SDS
		}
	}
}

func parseLeaf(t *testing.T, chainPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(chainPEM)
	if block == nil {
		t.Fatal("no PEM in certificate chain")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
