package e2e_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// Environment of the workload child process (TestFederationChildWorkload).
const (
	envChildAgent  = "FEDE2E_AGENT"   // Workload API address
	envChildPeer   = "FEDE2E_PEER"    // host:port of an mTLS server
	envChildPeerID = "FEDE2E_PEER_ID" // the SPIFFE ID that server must present
)

// childUID is the uid (and gid) the workload child runs as: nobody.
const childUID = 65534

// TestFederationChildWorkload is the body of the workload child process
// that runChildWorkload starts as another uid; in a normal test run it
// skips. It fetches its X.509 context from the agent, prints the trust
// domains of the bundles it received ("bundles a.test,b.test") and the
// outcome of one mTLS handshake as a client of the peer ("handshake ok" or
// "handshake error: ...").
func TestFederationChildWorkload(t *testing.T) {
	agent := os.Getenv(envChildAgent)
	if agent == "" {
		t.Skip("runs only as the federation tests' workload child process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	x, err := workloadapi.FetchX509Context(ctx, workloadapi.WithAddr(agent))
	if err != nil {
		fmt.Printf("fetch error: %v\n", err)
		os.Exit(2)
	}
	var tds []string
	for _, b := range x.Bundles.Bundles() {
		tds = append(tds, b.TrustDomain().Name())
	}
	slices.Sort(tds)
	fmt.Printf("bundles %s\n", strings.Join(tds, ","))
	cfg := tlsconfig.MTLSClientConfig(x.DefaultSVID(), x.Bundles, tlsconfig.AuthorizeID(spiffeid.RequireFromString(os.Getenv(envChildPeerID))))
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", os.Getenv(envChildPeer))
	if err != nil {
		fmt.Printf("handshake error: %v\n", err)
		os.Exit(0)
	}
	c.Close()
	fmt.Println("handshake ok")
	os.Exit(0)
}

// runChildWorkload runs TestFederationChildWorkload as uid childUID, a
// workload the agent at agentAddr tells apart from this process, with an
// mTLS server at peer presenting peerID, and returns its output.
func runChildWorkload(t *testing.T, agentAddr, peer string, peerID spiffeid.ID) string {
	t.Helper()
	if os.Getuid() != 0 && os.Getenv("CI") == "" {
		t.Skip("runs a workload as another uid: needs root")
	}
	bin := copyTestBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run=^TestFederationChildWorkload$", "-test.count=1")
	cmd.Env = append(os.Environ(), envChildAgent+"="+agentAddr, envChildPeer+"="+peer, envChildPeerID+"="+peerID.String())
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: childUID, Gid: childUID}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("workload child as uid %d: %v\n%s", childUID, err, out)
	}
	return string(out)
}

// copyTestBinary copies the running test binary where another uid can run
// it (the build directory is private to this user).
func copyTestBinary(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fede2e")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, "child.test")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}
