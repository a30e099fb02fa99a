package e2e_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
)

// fedRefreshFloor is the foreign bundle manager's floor between fetches in
// the federation tests (production: one minute), so that a test sees
// several refreshes and retries.
const fedRefreshFloor = time.Second

// fedDomain is one trust domain of a federation test: a real server
// serving its bundle endpoint on loopback, and that server's log.
type fedDomain struct {
	*testenv.Server
	td  spiffeid.TrustDomain
	log *logLines
}

// fedDomainOptions describe a fedDomain's server.
type fedDomainOptions struct {
	td   string
	port int // bundle endpoint port (testenv.FreePort)
	// endpoint is the bundle_endpoint block; Address and Port are filled
	// in. Nil: an https_spiffe endpoint with a two-second refresh hint.
	endpoint *config.BundleEndpoint
	// federatesWith are the static federates_with blocks.
	federatesWith []config.FederatesWith
	// opts are the server's testenv options; TrustDomain and Log are
	// set here.
	opts testenv.Options
}

// startFedDomain runs the server of o.td with its federation block.
func startFedDomain(t testing.TB, o fedDomainOptions) *fedDomain {
	t.Helper()
	d := &fedDomain{td: spiffeid.RequireTrustDomainFromString(o.td), log: newLogLines()}
	be := o.endpoint
	if be == nil {
		be = &config.BundleEndpoint{Profile: config.ProfileHTTPSSPIFFE, RefreshHint: 2 * time.Second}
	}
	be.Address, be.Port = "127.0.0.1", o.port
	opts := o.opts
	opts.TrustDomain = o.td
	opts.Log = d.log.logger(o.td)
	if opts.Federation.MinRefreshInterval == 0 {
		opts.Federation.MinRefreshInterval = fedRefreshFloor
	}
	adjust := opts.ServerConfig
	opts.ServerConfig = func(c *config.Server) {
		c.Federation = &config.Federation{BundleEndpoint: be, FederatesWith: o.federatesWith}
		if adjust != nil {
			adjust(c)
		}
	}
	d.Server = testenv.StartServer(t, opts)
	return d
}

// federatesWith is the federates_with block of a server that fetches the
// bundle of td from its endpoint on 127.0.0.1:port with https_spiffe,
// authenticating td's server by its SPIFFE ID.
func federatesWith(td string, port int) config.FederatesWith {
	t := spiffeid.RequireTrustDomainFromString(td)
	return config.FederatesWith{
		TrustDomain:       t,
		BundleEndpointURL: "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Profile:           config.ProfileHTTPSSPIFFE,
		EndpointSPIFFEID:  spiffeid.RequireFromPath(t, "/spire/server"),
	}
}

// bootstrapBundle gives to's server the bundle of from, as SPIRE's
// documentation bootstraps https_spiffe federation: `bundle show -format
// spiffe` on from's server piped into `bundle set -format spiffe` on
// to's.
func bootstrapBundle(t testing.TB, from, to *fedDomain) {
	t.Helper()
	code, doc, stderr := runServerCLI(from.Server, "bundle", "show", "-format", "spiffe")
	if code != 0 {
		t.Fatalf("%s: bundle show: exit %d: %s", from.td, code, stderr)
	}
	code, out, stderr := runServerCLIInput(to.Server, doc, "bundle", "set", "-id", from.td.IDString(), "-format", "spiffe")
	if code != 0 || out != "bundle set.\n" {
		t.Fatalf("%s: bundle set %s: exit %d: %s%s", to.td, from.td, code, out, stderr)
	}
}

// x509Source returns a go-spiffe X509Source of the workload served by ag,
// closed when the test ends. It returns once the agent served the first
// X.509 context.
func x509Source(t testing.TB, ag *testenv.Agent) *workloadapi.X509Source {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(workloadapi.WithAddr(ag.Address())))
	if err != nil {
		t.Fatalf("X509Source of agent %s: %v", ag.Name, err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// waitSource waits until cond holds for src, re-checking on each update
// the source receives.
func waitSource(t testing.TB, src *workloadapi.X509Source, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-src.Updated():
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// hasBundle reports whether src holds a bundle of td.
func hasBundle(src *workloadapi.X509Source, td spiffeid.TrustDomain) bool {
	_, err := src.GetX509BundleForTrustDomain(td)
	return err == nil
}

// handshake runs one TLS handshake over loopback TCP between a client and
// a server configured by go-spiffe's tlsconfig. It returns both sides'
// errors: with TLS 1.3 the client finishes before the server has verified
// the client's certificate.
func handshake(t testing.TB, client, server *tls.Config) error {
	addr, serverErr := serveOnce(t, server)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := tls.Dialer{Config: client}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return errors.Join(fmt.Errorf("client: %w", err), <-serverErr)
	}
	defer c.Close()
	return <-serverErr
}

// serveOnce listens on loopback with server, completes the handshake of
// the first connection, and sends its error (nil when it succeeded). The
// listener closes when the test ends.
func serveOnce(t testing.TB, server *tls.Config) (addr string, serverErr <-chan error) {
	t.Helper()
	lis, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	errc := make(chan error, 1)
	go func() {
		c, err := lis.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := c.(*tls.Conn).Handshake(); err != nil {
			errc <- fmt.Errorf("server: %w", err)
			return
		}
		errc <- nil
	}()
	return lis.Addr().String(), errc
}
