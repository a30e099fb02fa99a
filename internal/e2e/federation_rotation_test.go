package e2e_test

import (
	"crypto/x509"
	"regexp"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
)

// TestFederationOutageAndRotation: a.test and b.test federate both ways
// (https_spiffe, refresh floor one second). b.test's server stops for
// three of a.test's refresh periods: a.test logs each failed refresh,
// keeps b.test's last bundle, and its workload keeps completing mTLS with
// b.test's (whose agent serves its cached SVID). b.test's server returns
// and its CA rotates (30s lifetime, schedule checked every 500ms:
// prepared at half life, activated at 5/6, so 10s apart, where a.test's
// way to its workloads takes about a second): when b.test's server logs
// that it activates the prepared CA, and so before anything is signed
// with it, a.test's workload already holds that authority; b.test's workload then gets an SVID of the new CA and
// mTLS still works both ways. Takes about 30s.
func TestFederationOutageAndRotation(t *testing.T) {
	portA, portB := testenv.FreePort(t), testenv.FreePort(t)
	a := startFedDomain(t, fedDomainOptions{td: "a.test", port: portA, federatesWith: []config.FederatesWith{federatesWith("b.test", portB)}})
	b := startFedDomain(t, fedDomainOptions{td: "b.test", port: portB, federatesWith: []config.FederatesWith{federatesWith("a.test", portA)},
		opts: testenv.Options{CATTL: 30 * time.Second, SVIDTTL: 10 * time.Second, CARotationCheckInterval: 500 * time.Millisecond,
			ServerConfig: func(c *config.Server) { c.AgentTTL = 10 * time.Second }}})
	bootstrapBundle(t, b, a)
	bootstrapBundle(t, a, b)
	agA, agB := a.StartAgent(t, "a", a.JoinToken(t, "/node")), b.StartAgent(t, "b", b.JoinToken(t, "/node"))
	a.CreateEntry(t, fedEntry("/node", "/app", "b.test"))
	b.CreateEntry(t, fedEntry("/node", "/app", "a.test"))
	srcA, srcB := x509Source(t, agA), x509Source(t, agB)
	waitSource(t, srcA, 30*time.Second, "b.test's bundle in a.test's workload", func() bool { return hasBundle(srcA, b.td) })
	waitSource(t, srcB, 30*time.Second, "a.test's bundle in b.test's workload", func() bool { return hasBundle(srcB, a.td) })
	first := serverCAs(t, b.Server)
	mtlsBothWays(t, srcA, srcB, a.ID("/app"), b.ID("/app"))

	t.Run("b.test's endpoint down for three refresh periods", func(t *testing.T) {
		stored := federatedBundleSPIFFE(t, a, b.td)
		from := a.log.len()
		b.Stop()
		a.log.wait(t, 30*time.Second, from, 3, `msg="federated bundle refresh failed; keeping the last good bundle"`,
			"trust_domain=b.test", "reason=unreachable")
		if got := federatedBundleSPIFFE(t, a, b.td); got != stored {
			t.Errorf("a.test's stored bundle of b.test changed while b.test was down:\n%s\nwas\n%s", got, stored)
		}
		if got := x509Authorities(t, srcA, b.td); !sameCerts(got, first) {
			t.Errorf("a.test's workload holds %d b.test authorities, want b.test's %d", len(got), len(first))
		}
		mtlsBothWays(t, srcA, srcB, a.ID("/app"), b.ID("/app"))
	})

	t.Run("b.test returns and rotates; a.test's workload has the new CA before b.test signs with it", func(t *testing.T) {
		b.Restart(t) // the restarted server stops with this, the last subtest
		line, _ := b.log.wait(t, 120*time.Second, 0, 1, `msg="activated next X.509 CA"`)
		// The CA logs the activation before its signer uses the new key:
		// a.test's workload must hold it now.
		m := regexp.MustCompile(`serial=(\d+)`).FindStringSubmatch(line.text)
		if m == nil {
			t.Fatalf("no serial in %q", line.text)
		}
		held := x509Authorities(t, srcA, b.td)
		next := findSerial(held, m[1])
		if next == nil {
			t.Fatalf("b.test activates the CA with serial %s; a.test's workload holds only %d authorities without it", m[1], len(held))
		}
		waitSource(t, srcB, 60*time.Second, "b.test's workload's SVID of the new CA", func() bool {
			s, err := srcB.GetX509SVID()
			return err == nil && s.Certificates[len(s.Certificates)-1].CheckSignatureFrom(next) == nil
		})
		mtlsBothWays(t, srcA, srcB, a.ID("/app"), b.ID("/app"))
	})
}

// mtlsBothWays completes mTLS between the workloads of srcA (idA) and srcB
// (idB), each as client and as server.
func mtlsBothWays(t *testing.T, srcA, srcB *workloadapi.X509Source, idA, idB spiffeid.ID) {
	t.Helper()
	if err := handshake(t, tlsconfig.MTLSClientConfig(srcA, srcA, tlsconfig.AuthorizeID(idB)),
		tlsconfig.MTLSServerConfig(srcB, srcB, tlsconfig.AuthorizeID(idA))); err != nil {
		t.Errorf("mTLS %s to %s: %v", idA, idB, err)
	}
	if err := handshake(t, tlsconfig.MTLSClientConfig(srcB, srcB, tlsconfig.AuthorizeID(idA)),
		tlsconfig.MTLSServerConfig(srcA, srcA, tlsconfig.AuthorizeID(idB))); err != nil {
		t.Errorf("mTLS %s to %s: %v", idB, idA, err)
	}
}

// x509Authorities returns the X.509 authorities of td that src holds.
func x509Authorities(t *testing.T, src *workloadapi.X509Source, td spiffeid.TrustDomain) []*x509.Certificate {
	t.Helper()
	b, err := src.GetX509BundleForTrustDomain(td)
	if err != nil {
		t.Fatal(err)
	}
	return b.X509Authorities()
}

// findSerial returns the certificate of certs with the decimal serial.
func findSerial(certs []*x509.Certificate, serial string) *x509.Certificate {
	for _, c := range certs {
		if c.SerialNumber.String() == serial {
			return c
		}
	}
	return nil
}

// federatedBundleSPIFFE returns d's stored bundle of td as `bundle list
// -id <td> -format spiffe` prints it.
func federatedBundleSPIFFE(t *testing.T, d *fedDomain, td spiffeid.TrustDomain) string {
	t.Helper()
	code, out, stderr := runServerCLI(d.Server, "bundle", "list", "-id", td.IDString(), "-format", "spiffe")
	if code != 0 {
		t.Fatalf("%s: bundle list -id %s: exit %d: %s", d.td, td, code, stderr)
	}
	return out
}
