package agent

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/agent/svidstore"
	"github.com/svidkit/svidkit/pkg/backoff"
)

// bootstrap gives the agent an identity: the stored one while it is valid,
// otherwise a new one from node attestation. Attestation is retried while
// the server is unreachable.
func (a *Agent) bootstrap(ctx context.Context) error {
	if err := a.loadTrust(); err != nil {
		return err
	}
	id, err := a.store.LoadIdentity()
	switch {
	case err == nil && !a.inTrustDomain(id.Chain[0]):
		if a.attestor == nil {
			return fmt.Errorf("agent: stored agent SVID %q is not in trust domain %q and no join token is configured", uriString(id.Chain[0]), a.cfg.TrustDomain)
		}
		a.log.Warn("stored agent SVID is for another trust domain; attesting again", "spiffe_id", uriString(id.Chain[0]))
	case err == nil:
		leaf := id.Chain[0]
		if a.cfg.Clock.Now().Before(leaf.NotAfter) {
			a.svid.Store(&id)
			// The server's Reattestable answer is not stored; the attestor
			// knows whether its kind of attestation can be repeated.
			a.reattestable = a.attestor != nil && a.attestor.Reattestable()
			a.log.Info("reusing stored agent SVID", "spiffe_id", uriString(leaf), "expires_at", leaf.NotAfter)
			return a.connect(ctx)
		}
		if a.attestor == nil {
			return fmt.Errorf("agent: stored agent SVID expired at %v and no join token is configured; provide a new join token", leaf.NotAfter)
		}
		a.log.Warn("stored agent SVID expired; attesting again", "expired_at", leaf.NotAfter)
	case errors.Is(err, svidstore.ErrNotFound):
		if a.attestor == nil {
			return fmt.Errorf("agent: no stored agent SVID in %q and no join token is configured", a.cfg.DataDir)
		}
	default:
		if a.attestor == nil {
			return fmt.Errorf("agent: %w", err)
		}
		a.log.Warn("stored agent SVID unusable; attesting again", "error", err)
	}

	if err := a.retry(ctx, "attestation", a.attest); err != nil {
		return err
	}
	return a.connect(ctx)
}

// connect makes sure the server can be verified (insecure bootstrap fetches
// the bundle first) and opens the mTLS connection.
func (a *Agent) connect(ctx context.Context) error {
	if a.trust.Load() == nil {
		if err := a.retry(ctx, "bootstrap bundle fetch", a.fetchBootstrapBundle); err != nil {
			return err
		}
	}
	a.reconnect()
	return nil
}

// retry runs fn until it succeeds, fails with an error other than the
// server being unreachable, or ctx is done.
func (a *Agent) retry(ctx context.Context, what string, fn func(context.Context) error) error {
	bo := backoff.NewJittered(a.cfg.SyncInterval, maxBackoff)
	for {
		actx, cancel := context.WithTimeout(ctx, iterationTimeout)
		err := fn(actx)
		cancel()
		a.progressed()
		if err == nil {
			return nil
		}
		// Retry while the server is unreachable, and also when it answers
		// Internal or ResourceExhausted: a k8s_psat server says Internal
		// while its kube-apiserver is down (a control-plane upgrade), and a
		// DaemonSet's agents should wait that out rather than crash-loop.
		// Refusals (InvalidArgument, PermissionDenied) and local errors
		// (no gRPC status) end the agent with their message.
		switch status.Code(err) {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.ResourceExhausted:
		default:
			return fmt.Errorf("agent: %s: %w", what, err)
		}
		d := bo.Next()
		a.log.Warn(what+" failed; retrying", "error", err, "retry_in", d)
		if err := wait(ctx, d); err != nil {
			return fmt.Errorf("agent: %s: %w", what, err)
		}
	}
}

// loadTrust sets the bundle that authenticates the server: the stored one
// if any, else the configured bootstrap bundle. None at all is allowed only
// with InsecureBootstrap.
func (a *Agent) loadTrust() error {
	certs, err := a.store.LoadBundle()
	switch {
	case err == nil:
	case errors.Is(err, svidstore.ErrNotFound):
		certs = a.cfg.TrustBundle
	default:
		a.log.Warn("stored bundle unusable; using the configured trust bundle", "error", err)
		certs = a.cfg.TrustBundle
	}
	if len(certs) == 0 {
		if !a.cfg.InsecureBootstrap {
			return errors.New("agent: no trust bundle: configure one or enable insecure bootstrap")
		}
		return nil
	}
	a.trust.Store(x509bundle.FromX509Authorities(a.cfg.TrustDomain, certs))
	return nil
}

// attest runs node attestation with a new key and fresh attestation data
// from the configured attestor, and stores the resulting identity. It is
// used for the first attestation and for every re-attestation. The
// server's bundle is fetched by the caller: by the first sync, or by
// fetchBootstrapBundle under insecure bootstrap.
func (a *Agent) attest(ctx context.Context) error {
	if a.attestor == nil {
		return errors.New("attest: no node attestor configured (no join token)")
	}
	ctx, cancel := context.WithTimeout(ctx, iterationTimeout)
	defer cancel()
	data, err := a.attestor.AttestationData(ctx)
	if err != nil {
		return fmt.Errorf("attest: %w", err)
	}
	key, csr, err := newKeyAndCSR()
	if err != nil {
		return fmt.Errorf("attest: %w", err)
	}
	insecure := a.trust.Load() == nil
	conn, err := a.dial(false, insecure)
	if err != nil {
		return fmt.Errorf("attest: %w", err)
	}
	defer conn.Close()
	stream, err := agentv1.NewAgentClient(conn).AttestAgent(ctx)
	if err != nil {
		return fmt.Errorf("attest: open stream: %w", err)
	}
	err = stream.Send(&agentv1.AttestAgentRequest{Step: &agentv1.AttestAgentRequest_Params_{
		Params: &agentv1.AttestAgentRequest_Params{
			Data:   data,
			Params: &agentv1.AgentX509SVIDParams{Csr: csr},
		},
	}})
	if err != nil {
		return fmt.Errorf("attest: send: %w", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("attest: %w", joinTokenRefused(data.GetType(), err))
	}
	_ = stream.CloseSend()
	result := resp.GetResult()
	if result == nil {
		return fmt.Errorf("attest: server sent a challenge; %s attestation has none", data.GetType())
	}
	chain, err := parseSVID(result.GetSvid(), key)
	if err != nil {
		return fmt.Errorf("attest: %w", err)
	}
	if !a.inTrustDomain(chain[0]) {
		return fmt.Errorf("attest: server issued %q, outside trust domain %q", uriString(chain[0]), a.cfg.TrustDomain)
	}
	id := svidstore.Identity{Chain: chain, Key: key}
	if err := a.store.StoreIdentity(id); err != nil {
		return fmt.Errorf("attest: %w", err)
	}
	a.svid.Store(&id)
	a.svidReceived = a.cfg.Clock.Now()
	a.reattestable = result.GetReattestable()
	a.metrics.attestations.Inc()
	a.log.Info("node attested", "attestor", data.GetType(), "spiffe_id", uriString(chain[0]),
		"expires_at", chain[0].NotAfter, "reattestable", a.reattestable)
	return nil
}

// joinTokenRefused explains a join token the server refused
// (InvalidArgument: unknown, already used or expired): no retry can help,
// the operator must create a new token. Other errors, timeouts among
// them, are returned as they are: the server spends a token only with an
// answer the agent is still waiting for, so a timed-out attempt is
// retried with the same token.
func joinTokenRefused(attestorType string, err error) error {
	if attestorType != joinTokenAttestor || status.Code(err) != codes.InvalidArgument {
		return err
	}
	return fmt.Errorf("join token refused by the server (each token attests one agent, once, before it expires); "+
		"create a new one with `svidkit-server token generate` and start the agent with it: %w", err)
}

// fetchBootstrapBundle gets the server's bundle over an unverified
// connection, for insecure bootstrap: the agent has an SVID but no bundle to
// verify the server with. The SVID must chain to the bundle received.
func (a *Agent) fetchBootstrapBundle(ctx context.Context) error {
	conn, err := a.dial(true, true)
	if err != nil {
		return fmt.Errorf("fetch bootstrap bundle: %w", err)
	}
	defer conn.Close()
	pb, err := bundlev1.NewBundleClient(conn).GetBundle(ctx, &bundlev1.GetBundleRequest{})
	if err != nil {
		return fmt.Errorf("fetch bootstrap bundle: %w", err)
	}
	b, err := bundleFromProto(pb)
	if err != nil {
		return fmt.Errorf("fetch bootstrap bundle: %w", err)
	}
	if b.TrustDomain() != a.cfg.TrustDomain {
		return fmt.Errorf("fetch bootstrap bundle: server bundle is for trust domain %q, want %q", b.TrustDomain(), a.cfg.TrustDomain)
	}
	if _, _, err := x509svid.Verify(a.svid.Load().Chain, b.X509Bundle()); err != nil {
		return fmt.Errorf("fetch bootstrap bundle: agent SVID does not chain to the server bundle: %w", err)
	}
	if err := a.applyBundle(b); err != nil {
		return fmt.Errorf("fetch bootstrap bundle: %w", err)
	}
	a.log.Warn("insecure bootstrap: trusting the server's bundle without verification", "x509_authorities", len(b.X509Authorities()))
	return nil
}

// newKeyAndCSR makes a new ECDSA P-256 key and a CSR conveying its public
// key.
func newKeyAndCSR() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CSR: %w", err)
	}
	return key, csr, nil
}

// parseSVID parses an X509SVID and checks that its leaf carries key's public
// key and a SPIFFE ID.
func parseSVID(svid *types.X509SVID, key crypto.Signer) ([]*x509.Certificate, error) {
	if svid == nil || len(svid.GetCertChain()) == 0 {
		return nil, errors.New("response has no certificate chain")
	}
	chain := make([]*x509.Certificate, 0, len(svid.CertChain))
	for i, der := range svid.CertChain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d of chain: %w", i, err)
		}
		chain = append(chain, c)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pub, ok := key.Public().(equaler); !ok || !pub.Equal(chain[0].PublicKey) {
		return nil, errors.New("certificate does not carry the requested public key")
	}
	if _, err := x509svid.IDFromCert(chain[0]); err != nil {
		return nil, fmt.Errorf("certificate is not an SVID: %w", err)
	}
	return chain, nil
}

// inTrustDomain reports whether the certificate's SPIFFE ID belongs to the
// configured trust domain.
func (a *Agent) inTrustDomain(c *x509.Certificate) bool {
	id, err := x509svid.IDFromCert(c)
	return err == nil && id.MemberOf(a.cfg.TrustDomain)
}

// uriString renders a certificate's first URI SAN for logs.
func uriString(c *x509.Certificate) string {
	if len(c.URIs) == 0 {
		return ""
	}
	return c.URIs[0].String()
}
