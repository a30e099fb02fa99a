package e2e_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// dialPeer is the workload child's mTLS attempt (see childPeer): peer is
// "host:port spiffe-id". It returns an error only when the attempt could
// not be made; the handshake's outcome goes to stdout.
func dialPeer(sock, peer string) error {
	addr, id, ok := strings.Cut(peer, " ")
	if !ok {
		return fmt.Errorf("%s=%q: want \"host:port spiffe-id\"", childPeer, peer)
	}
	peerID, err := spiffeid.FromString(id)
	if err != nil {
		return fmt.Errorf("%s: %w", childPeer, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	x, err := workloadapi.FetchX509Context(ctx, workloadapi.WithAddr("unix://"+sock))
	if err != nil {
		return err
	}
	d := tls.Dialer{Config: tlsconfig.MTLSClientConfig(x.DefaultSVID(), x.Bundles, tlsconfig.AuthorizeID(peerID))}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		fmt.Printf("handshake error: %v\n", err)
		return nil
	}
	c.Close()
	fmt.Println("handshake ok")
	return nil
}

// runWorkloadDialing runs the workload binary exe against sock, which must
// serve it exactly the bundles of want, and then has it try mTLS with the
// server at addr presenting peerID. It returns the child's stdout.
func runWorkloadDialing(t *testing.T, exe, sock string, want []string, addr string, peerID spiffeid.ID) string {
	t.Helper()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childSocket+"="+sock, childWant+"="+strings.Join(want, ","), childPeer+"="+addr+" "+peerID.String())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("workload %s: %v\n%s%s", filepath.Base(exe), err, out, stderr.String())
	}
	return string(out)
}
