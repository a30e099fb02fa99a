package e2e_test

import (
	"crypto/x509"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/serverd"
)

// TestFederation runs three trust domains, each a real server: a.test and
// b.test federate both ways with https_spiffe (static federates_with
// blocks, bootstrapped with `bundle show` | `bundle set`, as SPIRE's
// documentation does), a.test fetches c.test's bundle from an https_web
// endpoint whose certificate comes from a test CA (a relationship made
// with `federation create`), and c.test federates with b.test under a
// wrong endpoint_spiffe_id. Workloads use go-spiffe's Workload API client
// and tlsconfig: a.test's and b.test's complete mTLS both ways; a.test's
// workload whose entry has no federates_with (a child process on the same
// agent, told apart by its unix:path) gets no foreign bundle, although
// the agent serves b.test's to this process, and its handshake with
// b.test fails; and c.test refuses b.test's endpoint
// with a log line naming the reason.
func TestFederation(t *testing.T) {
	portA, portB, portC := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	tdA, tdB, tdC := "a.test", "b.test", "c.test"
	// Only the ports and IDs are needed to write the federates_with
	// blocks: the servers start in any order.
	fwA, fwB := federatesWith(tdA, portA), federatesWith(tdB, portB)
	wrongB := fwB
	wrongB.EndpointSPIFFEID = spiffeid.RequireFromString("spiffe://b.test/not/the/server")

	certFile, keyFile, webRoots := servingCert(t, "localhost")
	a := startFedDomain(t, fedDomainOptions{td: tdA, port: portA, federatesWith: []config.FederatesWith{fwB},
		opts: testenv.Options{Federation: serverd.FederationOptions{WebPKIRoots: webRoots}}})
	b := startFedDomain(t, fedDomainOptions{td: tdB, port: portB, federatesWith: []config.FederatesWith{fwA}})
	c := startFedDomain(t, fedDomainOptions{td: tdC, port: portC, federatesWith: []config.FederatesWith{wrongB},
		endpoint: &config.BundleEndpoint{Profile: config.ProfileHTTPSWeb, RefreshHint: 2 * time.Second,
			ServingCertFile: &config.ServingCertFile{CertFilePath: certFile, KeyFilePath: keyFile, FileSyncInterval: time.Hour}}})
	bootstrapBundle(t, b, a)
	bootstrapBundle(t, a, b)
	bootstrapBundle(t, b, c)

	cURL := "https://" + net.JoinHostPort("localhost", strconv.Itoa(portC))
	if code, out, stderr := runServerCLI(a.Server, "federation", "create", "-trustDomain", tdC,
		"-bundleEndpointURL", cURL, "-bundleEndpointProfile", "https_web"); code != 0 {
		t.Fatalf("federation create %s: exit %d: %s%s", tdC, code, out, stderr)
	}
	// Entries may federate only with trust domains that have a bundle:
	// c.test's comes from its endpoint.
	a.log.wait(t, 30*time.Second, 0, 1, `msg="federated bundle updated"`, "trust_domain="+tdC)

	fedAgent := a.StartAgent(t, "fed", a.JoinToken(t, "/node-fed"))
	bAgent := b.StartAgent(t, "a", b.JoinToken(t, "/node"))
	// Workloads on a.test's agent are told apart by their unix:path
	// selectors: this process federates with b.test and c.test, a copy of
	// it at another path (a child process) with nothing.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	plainExe := workloadCopy(t, "plain-workload")
	fed := fedEntry("/node-fed", "/app", tdB, tdC)
	fed.Selectors = []string{"unix:path:" + self}
	a.CreateEntry(t, fed)
	plain := fedEntry("/node-fed", "/plain")
	plain.Selectors = []string{"unix:path:" + plainExe}
	a.CreateEntry(t, plain)
	b.CreateEntry(t, fedEntry("/node", "/app", tdA))

	srcA, srcB := x509Source(t, fedAgent), x509Source(t, bAgent)
	waitSource(t, srcA, 30*time.Second, "b.test's and c.test's bundles in a.test's workload", func() bool {
		return hasBundle(srcA, b.td) && hasBundle(srcA, c.td)
	})
	waitSource(t, srcB, 30*time.Second, "a.test's bundle in b.test's workload", func() bool { return hasBundle(srcB, a.td) })
	appA, appB, plainA := a.ID("/app"), b.ID("/app"), a.ID("/plain")

	t.Run("a.test client, b.test server", func(t *testing.T) {
		err := handshake(t, tlsconfig.MTLSClientConfig(srcA, srcA, tlsconfig.AuthorizeID(appB)),
			tlsconfig.MTLSServerConfig(srcB, srcB, tlsconfig.AuthorizeID(appA)))
		if err != nil {
			t.Fatalf("mTLS: %v", err)
		}
	})
	t.Run("b.test client, a.test server", func(t *testing.T) {
		err := handshake(t, tlsconfig.MTLSClientConfig(srcB, srcB, tlsconfig.AuthorizeID(appA)),
			tlsconfig.MTLSServerConfig(srcA, srcA, tlsconfig.AuthorizeID(appB)))
		if err != nil {
			t.Fatalf("mTLS: %v", err)
		}
	})
	t.Run("no federates_with: no foreign bundle, handshake with b.test fails", func(t *testing.T) {
		addr, serverErr := serveOnce(t, tlsconfig.MTLSServerConfig(srcB, srcB, tlsconfig.AuthorizeID(plainA)))
		// The child fails unless it is served exactly a.test's bundle.
		out := runWorkloadDialing(t, plainExe, fedAgent.Socket, []string{tdA}, addr, appB)
		if !strings.Contains(out, `handshake error:`) || !strings.Contains(out, `no X.509 bundle for trust domain "b.test"`) {
			t.Errorf("its handshake with b.test's workload: got\n%s\nwant it to find no bundle for b.test", out)
		}
		if err := <-serverErr; err == nil {
			t.Error("b.test's workload completed the handshake")
		}
	})
	t.Run("https_web: c.test's bundle reaches a.test's workload", func(t *testing.T) {
		got, err := srcA.GetX509BundleForTrustDomain(c.td)
		if err != nil {
			t.Fatal(err)
		}
		want := serverCAs(t, c.Server)
		if !sameCerts(got.X509Authorities(), want) {
			t.Fatalf("a.test's workload holds %d c.test authorities, not c.test's %d", len(got.X509Authorities()), len(want))
		}
	})
	t.Run("wrong endpoint_spiffe_id refused", func(t *testing.T) {
		line, _ := c.log.wait(t, 30*time.Second, 0, 1, `msg="federated bundle refresh failed; keeping the last good bundle"`,
			"trust_domain="+tdB, "reason=wrong_endpoint_id")
		if !strings.Contains(line.text, "spiffe://b.test/not/the/server") {
			t.Errorf("the log line does not name the expected endpoint ID:\n%s", line.text)
		}
	})
}

// fedEntry is an entry for this process's uid under parentPath that
// federates with tds.
func fedEntry(parentPath, path string, tds ...string) testenv.Entry {
	e := workloadEntry(parentPath, path, 0)
	e.FederatesWith = tds
	return e
}

// sameCerts reports whether a and b hold the same certificates in any
// order.
func sameCerts(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		found := false
		for _, y := range b {
			found = found || x.Equal(y)
		}
		if !found {
			return false
		}
	}
	return true
}
