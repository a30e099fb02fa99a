package agent

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	gbackoff "google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
)

// svidSource hands the agent's current SVID to each TLS handshake, so a
// renewed SVID is used by the next connection without rebuilding configs.
type svidSource struct{ a *Agent }

func (s svidSource) GetX509SVID() (*x509svid.SVID, error) {
	id := s.a.svid.Load()
	if id == nil {
		return nil, errors.New("agent has no SVID yet")
	}
	spiffeID, err := x509svid.IDFromCert(id.Chain[0])
	if err != nil {
		return nil, fmt.Errorf("agent SVID: %w", err)
	}
	return &x509svid.SVID{ID: spiffeID, Certificates: id.Chain, PrivateKey: id.Key}, nil
}

// trustSource verifies the server against the agent's current bundle.
type trustSource struct{ a *Agent }

func (s trustSource) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	b := s.a.trust.Load()
	if b == nil || td != s.a.cfg.TrustDomain {
		return nil, fmt.Errorf("no bundle for trust domain %q", td)
	}
	return b, nil
}

// keepaliveParams make a connection that died under a held entry sync
// fail within keepalive Time+Timeout rather than at the call's deadline.
// Pings go out only while a call is open and the connection is silent:
// svidkit servers permit them every 10 s; against servers with gRPC's
// default 5 min policy (SPIRE) the agent only polls, and short calls never
// go silent for that long.
func keepaliveParams() keepalive.ClientParameters {
	return keepalive.ClientParameters{Time: 15 * time.Second, Timeout: 10 * time.Second}
}

// loadBalancing is the agent's gRPC service config: round_robin keeps a
// connection to every address the server name resolves to and sends each
// call to the next ready one, as SPIRE's agent does. Of gRPC's two
// policies it is the one that fails over without a dial on the failure
// path: when a server dies, the held entry sync and any mint in flight fail
// with Unavailable, and the agent's retry (at once for the entry sync, at
// the next round for minting) finds the other servers' connections
// already up, even when the dead
// server's host no longer answers at all (pick_first, even on a shuffled
// list, would first have to connect to another address, waiting out a
// connect timeout per unreachable one). The price is one idle TLS
// connection per agent per server, small for the handful of servers a
// trust domain runs. The DNS resolver's own service config (TXT records)
// is ignored, so a DNS record cannot change the agent's policy.
const loadBalancing = `{"loadBalancingConfig": [{"round_robin": {}}]}`

// reconnectBackoff is how gRPC retries a server whose connection failed:
// its default schedule, capped at maxBackoff instead of two minutes, so
// that a server restarted after a long outage gets its share of calls
// again within seconds.
func reconnectBackoff() grpc.ConnectParams {
	bo := gbackoff.DefaultConfig
	bo.MaxDelay = maxBackoff
	return grpc.ConnectParams{Backoff: bo, MinConnectTimeout: 20 * time.Second}
}

// dial opens a channel to the servers (every address a.target resolves
// to; see loadBalancing). With mtls the agent presents its SVID; with
// insecure the server's certificate is not verified (only for bootstrap
// attestation without a bundle). grpc connects lazily, reconnects by
// itself and resolves the name again when a connection ends, which the
// server's connection age cap makes happen every few minutes, so that new
// servers get their share.
func (a *Agent) dial(mtls, insecure bool) (*grpc.ClientConn, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	authorizer := tlsconfig.AuthorizeID(a.serverID)
	switch {
	case insecure:
		cfg.InsecureSkipVerify = true //nolint:gosec // InsecureBootstrap: first contact only, by configuration.
		if mtls {
			cfg.GetClientCertificate = tlsconfig.GetClientCertificate(svidSource{a: a})
		}
	case mtls:
		tlsconfig.HookMTLSClientConfig(cfg, svidSource{a: a}, trustSource{a: a}, authorizer)
	default:
		tlsconfig.HookTLSClientConfig(cfg, trustSource{a: a}, authorizer)
	}
	conn, err := grpc.NewClient(a.target,
		grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
		grpc.WithKeepaliveParams(keepaliveParams()),
		grpc.WithDisableServiceConfig(),
		grpc.WithDefaultServiceConfig(loadBalancing),
		grpc.WithConnectParams(reconnectBackoff()),
		// TLS buffers a whole record below gRPC's framer, so its 32 KiB
		// read buffer only copied (a node's connection is mostly idle;
		// gRPC pools the write buffer by default).
		grpc.WithReadBufferSize(0))
	if err != nil {
		return nil, fmt.Errorf("dial server %q: %w", a.cfg.ServerAddress, err)
	}
	return conn, nil
}

// reconnect replaces the mTLS connection so that the next calls handshake
// with the current SVID and bundle. TLS 1.3 has no renegotiation: an open
// connection keeps the certificate it was established with, and the server
// considers a renewed SVID active only once it is used.
func (a *Agent) reconnect() {
	conn, err := a.dial(true, false)
	if err != nil {
		a.log.Error("reconnect to server", "error", err)
		return
	}
	if old := a.conn.Swap(conn); old != nil {
		_ = old.Close()
	}
}

// closeConn closes the mTLS connection when Run ends.
func (a *Agent) closeConn() {
	if old := a.conn.Swap(nil); old != nil {
		_ = old.Close()
	}
}

// client returns the current mTLS connection.
func (a *Agent) client() (*grpc.ClientConn, error) {
	conn := a.conn.Load()
	if conn == nil {
		return nil, errors.New("agent is not connected to the server")
	}
	return conn, nil
}
