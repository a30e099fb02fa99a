package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"

	"github.com/svidkit/svidkit/pkg/server/ca"
)

// peerLeaf handshakes with the agent endpoint and returns the server's leaf
// certificate. Verification is skipped because the test clock runs ahead
// of the real clock the TLS stack would check validity with.
func peerLeaf(t *testing.T, e *env) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", e.srv.TCPAddr().String(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // see above
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

func TestServerSVID(t *testing.T) {
	e := newEnv(t)
	leaf := peerLeaf(t, e)
	id, err := x509svid.IDFromCert(leaf)
	if err != nil || id.String() != "spiffe://example.org/spire/server" {
		t.Fatalf("server SVID ID = %v, %v", id, err)
	}
	if _, _, err := x509svid.Verify([]*x509.Certificate{leaf}, e.ca.Bundle()); err != nil {
		t.Fatalf("server SVID does not verify: %v", err)
	}

	// Past half its lifetime the SVID is replaced without a restart.
	e.clock.Add(leaf.NotAfter.Sub(leaf.NotBefore)/2 + time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	// Each probe is a full TLS handshake, which paces the loop.
	for peerLeaf(t, e).SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("server SVID was not rotated")
		}
	}
}

func TestClientSVIDFromOtherCARejected(t *testing.T) {
	e := newEnv(t)
	agent := e.mustAttest("real")
	// An SVID with the same ID signed by an unrelated CA.
	other := newEnvParts(t)
	key, _ := newKeyCSR(t)
	chain, err := other.ca.SignX509SVID(context.Background(), ca.X509SVIDParams{SPIFFEID: agent.ID, PublicKey: key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	forged := &x509svid.SVID{ID: agent.ID, Certificates: chain, PrivateKey: key}
	_, err = entryv1.NewEntryClient(e.tcpConn(forged)).GetAuthorizedEntries(context.Background(), &entryv1.GetAuthorizedEntriesRequest{})
	if err == nil {
		t.Fatal("forged client SVID accepted")
	}
}
