package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	svidv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/svid/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
)

// benchCallers is the number of concurrent callers of the signing
// benchmarks, independent of GOMAXPROCS.
const benchCallers = 8

// csrPoolSize is the number of distinct pre-made CSRs (each with its own
// key) the signing benchmarks cycle through; the server still parses and
// verifies every one it receives.
const csrPoolSize = 256

// createMany creates n entries under parent in batches.
func (e *env) createMany(n int, parent *types.SPIFFEID, prefix string) []*types.Entry {
	var out []*types.Entry
	for start := 0; start < n; start += 100 {
		var batch []*types.Entry
		for i := start; i < min(start+100, n); i++ {
			batch = append(batch, &types.Entry{SpiffeId: pid(fmt.Sprintf("/%s/%d", prefix, i)), ParentId: parent, Selectors: sels("unix:uid:1")})
		}
		out = append(out, e.createEntries(batch...)...)
	}
	return out
}

// withCAManager replaces the test CA with the production *ca.Manager (in
// memory keys, ec-p256) publishing its bundle to a store of its own.
func withCAManager(t testing.TB) envOption {
	t.Helper()
	bundles, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ca.sqlite3"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bundles.Close() })
	m, err := ca.New(context.Background(), ca.Config{
		TrustDomain: td,
		KeyType:     "ec-p256",
		Keys:        ca.NewMemoryKeyStore(),
		Bundles:     bundles,
		Log:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return func(c *server.Config) { c.Authority = m }
}

// csrPool returns n CSRs, each for a distinct fresh P-256 key; with uri
// set, CSR i carries the URI SAN fmt.Sprintf(uri, i).
func csrPool(b *testing.B, n int, uri string) [][]byte {
	b.Helper()
	out := make([][]byte, n)
	for i := range out {
		if uri == "" {
			_, out[i] = newKeyCSR(b)
		} else {
			_, out[i] = newKeyCSR(b, fmt.Sprintf(uri, i))
		}
	}
	return out
}

// runCallers runs benchCallers goroutines that together call do b.N times
// (do gets the call's sequence number), and reports perCall*b.N/elapsed
// as svids/s.
func runCallers(b *testing.B, perCall int, do func(i int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range benchCallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := do(i); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*perCall)/elapsed.Seconds(), "svids/s")
}

// BenchmarkMintX509SVID8 is the target: 8 concurrent admin callers
// minting X509-SVIDs over the admin Unix socket, signed by the production
// CA, each CSR for a distinct key.
func BenchmarkMintX509SVID8(b *testing.B) {
	e := newEnv(b, withCAManager(b))
	csrs := csrPool(b, csrPoolSize, "spiffe://example.org/minted/%d")
	client := svidv1.NewSVIDClient(e.admin)
	ctx := context.Background()
	runCallers(b, 1, func(i int) error {
		resp, err := client.MintX509SVID(ctx, &svidv1.MintX509SVIDRequest{Csr: csrs[i%len(csrs)]})
		if err != nil {
			return err
		}
		if len(resp.Svid.GetCertChain()) == 0 {
			return fmt.Errorf("empty chain")
		}
		return nil
	})
}

// benchNewX509SVID has an attested agent ask for perCall SVIDs per
// BatchNewX509SVID call over TCP mTLS, from 8 concurrent callers.
func benchNewX509SVID(b *testing.B, perCall int) {
	e := newEnv(b, withCAManager(b))
	agent := e.mustAttest("bench")
	entries := e.createMany(perCall, idOf(agent), "wl")
	csrs := csrPool(b, csrPoolSize, "")
	// Requests are built before the timer starts; consecutive requests use
	// different CSRs.
	reqs := make([]*svidv1.BatchNewX509SVIDRequest, csrPoolSize)
	for r := range reqs {
		req := &svidv1.BatchNewX509SVIDRequest{}
		for j, en := range entries {
			req.Params = append(req.Params, &svidv1.NewX509SVIDParams{EntryId: en.Id, Csr: csrs[(r*perCall+j)%len(csrs)]})
		}
		reqs[r] = req
	}
	client := svidv1.NewSVIDClient(e.tcpConn(agent))
	ctx := context.Background()
	runCallers(b, perCall, func(i int) error {
		resp, err := client.BatchNewX509SVID(ctx, reqs[i%len(reqs)])
		if err != nil {
			return err
		}
		for _, r := range resp.Results {
			if codes.Code(r.Status.GetCode()) != codes.OK {
				return fmt.Errorf("result: %s", r.Status.GetMessage())
			}
		}
		return nil
	})
}

// BenchmarkBatchNewX509SVID50 signs batches of 50 SVIDs per call.
func BenchmarkBatchNewX509SVID50(b *testing.B) { benchNewX509SVID(b, 50) }

// BenchmarkBatchNewX509SVID1 signs one SVID per call.
func BenchmarkBatchNewX509SVID1(b *testing.B) { benchNewX509SVID(b, 1) }

// rawSigner is a P-256 CA certificate with its key and an
// X509-SVID-shaped template, for the crypto/x509 ceiling benchmarks.
type rawSigner struct {
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	tmpl   *x509.Certificate
}

// newRawSigner builds its own CA rather than use internal/testca: the
// baselines call x509.CreateCertificate itself, with the CA's private key
// in hand, which testca keeps to itself.
func newRawSigner(b *testing.B) rawSigner {
	b.Helper()
	caKey := testca.NewKey(b)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Country: []string{"US"}, Organization: []string{"SPIFFE"}},
		NotBefore: now, NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		URIs: []*url.URL{td.ID().URL()},
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		b.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).Lsh(big.NewInt(1), 127),
		Subject:               pkix.Name{Country: []string{"US"}, Organization: []string{"SPIRE"}},
		NotBefore:             now.Add(-10 * time.Second),
		NotAfter:              now.Add(time.Hour),
		URIs:                  []*url.URL{{Scheme: "spiffe", Host: "example.org", Path: "/minted/1"}},
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	return rawSigner{caCert: caCert, caKey: caKey, tmpl: tmpl}
}

// BenchmarkX509CreateCertificateParallel is the raw Go ceiling for the
// signing benchmarks: x509.CreateCertificate alone (one ECDSA signature
// plus the verification crypto/x509 does of it) with a P-256 CA and an
// X509-SVID-shaped template, on every core.
func BenchmarkX509CreateCertificateParallel(b *testing.B) {
	s := newRawSigner(b)
	leafKey := testca.NewKey(b)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := x509.CreateCertificate(rand.Reader, s.tmpl, s.caCert, leafKey.Public(), s.caKey); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "svids/s")
}

// BenchmarkX509CSRAndCreateCertificateParallel is the crypto/x509 floor of
// one minted SVID, without gRPC: parse a CSR, verify its signature (proof
// of possession, a second ECDSA verification) and create the certificate.
func BenchmarkX509CSRAndCreateCertificateParallel(b *testing.B) {
	s := newRawSigner(b)
	csrs := csrPool(b, csrPoolSize, "spiffe://example.org/minted/%d")
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			csr, err := x509.ParseCertificateRequest(csrs[int(next.Add(1))%len(csrs)])
			if err == nil {
				err = csr.CheckSignature()
			}
			if err == nil {
				_, err = x509.CreateCertificate(rand.Reader, s.tmpl, s.caCert, csr.PublicKey, s.caKey)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "svids/s")
}

// pollEnv starts a server with 1,000 entries, 500 of them authorized for
// the returned agent (half directly, half through a node entry).
func pollEnv(b *testing.B) (*env, *x509svid.SVID) {
	e := newEnv(b)
	agent := e.mustAttest("poll")
	e.createEntries(&types.Entry{SpiffeId: pid("/node/group"), ParentId: pid("/spire/server"), Selectors: sels("spiffe_id:" + agent.ID.String())})
	e.createMany(250, idOf(agent), "direct")
	e.createMany(249, pid("/node/group"), "group")
	e.createMany(500, pid("/spire/agent/join_token/someone-else"), "other")
	return e, agent
}

// BenchmarkSyncAuthorizedEntries is an agent's 200 ms poll when nothing
// changed: 500 authorized entries (one page) come down as revisions, and
// the agent, already up to date, asks for no entry.
func BenchmarkSyncAuthorizedEntries(b *testing.B) {
	e, agent := pollEnv(b)
	client := entryv1.NewEntryClient(e.tcpConn(agent))
	poll := func() (int, error) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stream, err := client.SyncAuthorizedEntries(ctx)
		if err != nil {
			return 0, err
		}
		if err := stream.Send(&entryv1.SyncAuthorizedEntriesRequest{}); err != nil {
			return 0, err
		}
		n := 0
		for {
			resp, err := stream.Recv()
			if err != nil {
				return 0, err
			}
			n += len(resp.EntryRevisions) + len(resp.Entries)
			if !resp.More {
				break
			}
		}
		if err := stream.CloseSend(); err != nil {
			return 0, err
		}
		if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("end of sync: %v", err)
		}
		return n, nil
	}
	if n, err := poll(); err != nil || n != 500 {
		b.Fatalf("first poll: %d entries, %v; want 500", n, err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := poll(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "polls/s")
}

// BenchmarkGetAuthorizedEntries polls with 1,000 entries in the store, 500
// of them authorized for the polling agent (half directly, half through a
// node entry).
func BenchmarkGetAuthorizedEntries(b *testing.B) {
	e, agent := pollEnv(b)
	client := entryv1.NewEntryClient(e.tcpConn(agent))
	resp, err := client.GetAuthorizedEntries(context.Background(), &entryv1.GetAuthorizedEntriesRequest{})
	if err != nil {
		b.Fatal(err)
	}
	if len(resp.Entries) != 500 {
		b.Fatalf("authorized for %d entries, want 500", len(resp.Entries))
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := client.GetAuthorizedEntries(context.Background(), &entryv1.GetAuthorizedEntriesRequest{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "polls/s")
}
