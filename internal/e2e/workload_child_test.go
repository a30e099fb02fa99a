package e2e_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// The test binary doubles as a second and third workload: with childSocket
// set it connects to that Workload API socket as a go-spiffe client and
// checks that it is served the bundles of exactly the trust domains in
// childWant (comma separated, the agent's own included), exiting 0 if so
// and 1 with the difference on stderr otherwise. Run from a copy at
// another path (see workloadCopy), it gets its own unix:path selector.
// With childPeer also set ("host:port spiffe-id") it then tries one mTLS
// handshake as a client of that server with go-spiffe's tlsconfig and
// prints "handshake ok" or "handshake error: ..." on stdout.
const (
	childSocket = "E2E_WORKLOAD_SOCKET"
	childWant   = "E2E_WORKLOAD_WANT"
	childPeer   = "E2E_WORKLOAD_PEER"
)

func TestMain(m *testing.M) {
	if sock := os.Getenv(childSocket); sock != "" {
		if err := checkServedBundles(sock, strings.Split(os.Getenv(childWant), ",")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if peer := os.Getenv(childPeer); peer != "" {
			if err := dialPeer(sock, peer); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		os.Exit(0)
	}
	os.Exit(pg.Main(m))
}

// checkServedBundles waits (30 s at most) for an X.509 context with an SVID
// and exactly the bundles of want, then checks that FetchX509Bundles and
// FetchJWTBundles serve the same trust domains.
func checkServedBundles(sock string, want []string) error {
	slices.Sort(want)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := workloadapi.New(ctx, workloadapi.WithAddr("unix://"+sock))
	if err != nil {
		return err
	}
	defer c.Close()
	var last []string
	met := false
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	// go-spiffe calls the watcher from within WatchX509Context.
	err = c.WatchX509Context(wctx, watchFunc(func(x *workloadapi.X509Context) {
		last = trustDomains(x.Bundles.Bundles())
		if len(x.SVIDs) > 0 && slices.Equal(last, want) {
			met = true
			stop()
		}
	}))
	if !met {
		return fmt.Errorf("X509SVIDResponse bundles (own + federated_bundles) %v, want %v: %v", last, want, err)
	}
	x509s, err := c.FetchX509Bundles(ctx)
	if err != nil {
		return fmt.Errorf("FetchX509Bundles: %w", err)
	}
	if got := trustDomains(x509s.Bundles()); !slices.Equal(got, want) {
		return fmt.Errorf("FetchX509Bundles served %v, want %v", got, want)
	}
	jwts, err := c.FetchJWTBundles(ctx)
	if err != nil {
		return fmt.Errorf("FetchJWTBundles: %w", err)
	}
	if got := trustDomains(jwts.Bundles()); !slices.Equal(got, want) {
		return fmt.Errorf("FetchJWTBundles served %v, want %v", got, want)
	}
	return nil
}

// trustDomains returns the sorted trust domain names of bundles.
func trustDomains[B interface{ TrustDomain() spiffeid.TrustDomain }](bundles []B) []string {
	out := make([]string, 0, len(bundles))
	for _, b := range bundles {
		out = append(out, b.TrustDomain().Name())
	}
	slices.Sort(out)
	return out
}

// watchFunc is a go-spiffe X.509 context watcher calling itself with each
// update.
type watchFunc func(*workloadapi.X509Context)

func (f watchFunc) OnX509ContextUpdate(x *workloadapi.X509Context) { f(x) }

func (watchFunc) OnX509ContextWatchError(error) {}

// workloadCopy links (or copies) the test binary to a new path, so that a
// child started from it gets a unix:path selector of its own.
func workloadCopy(t *testing.T, name string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.Link(self, p); err == nil {
		return p
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// runWorkload runs the workload binary exe against sock and fails the test
// unless it is served exactly the bundles of want.
func runWorkload(t *testing.T, exe, sock string, want []string) {
	t.Helper()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childSocket+"="+sock, childWant+"="+strings.Join(want, ","))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("workload %s: %v\n%s", filepath.Base(exe), err, out)
	}
}
