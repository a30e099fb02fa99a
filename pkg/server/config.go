package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/nodeattest"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultX509SVIDTTL   = time.Hour
	DefaultJWTSVIDTTL    = 5 * time.Minute
	DefaultEntryPageSize = 500
	// DefaultAttestationFirstMessageTimeout is how long AttestAgent waits
	// for a caller's first message. An agent sends it right after the
	// TLS handshake; ten seconds leaves room for a slow network and
	// bounds how long an idle stream occupies the server.
	DefaultAttestationFirstMessageTimeout = 10 * time.Second
)

// Clock tells the time. Tests inject a controllable one.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Config configures a Server.
type Config struct {
	// TrustDomain is the trust domain served. Required; must equal
	// Authority.TrustDomain().
	TrustDomain spiffeid.TrustDomain
	// Store holds entries, agents and join tokens. Required.
	Store datastore.Store
	// Authority signs SVIDs and provides the trust bundle. Required.
	Authority Authority
	// BindAddress is the agent-facing TCP address, host:port. Required.
	BindAddress string
	// SocketPath is the admin Unix socket. Required.
	SocketPath string
	// SocketDirShared accepts an admin socket directory that other users
	// own or may write, with a warning (config socket_dir_shared).
	SocketDirShared bool
	// DefaultX509SVIDTTL is used when an entry or request sets no TTL.
	DefaultX509SVIDTTL time.Duration
	// DefaultJWTSVIDTTL is used when an entry or request sets no JWT TTL.
	DefaultJWTSVIDTTL time.Duration
	// AgentTTL is the lifetime of agent SVIDs; default DefaultX509SVIDTTL.
	AgentTTL time.Duration
	// EntryPageSize is the page size of SyncAuthorizedEntries: smaller
	// authorized sets are sent in full at once, larger ones as revision
	// pages; default DefaultEntryPageSize.
	EntryPageSize int
	// Log receives the server's logs; default slog.Default().
	Log *slog.Logger
	// Registerer receives the server's metrics; nil disables registration.
	Registerer prometheus.Registerer
	// Clock tells the time; default the system clock.
	Clock Clock
	// NodeAttestors are the node attestors served besides the built-in
	// join_token one, each under its Type (e.g. k8s_psat).
	NodeAttestors []nodeattest.Attestor
	// DisableJoinToken turns the built-in join_token attestor off, for a
	// server whose configuration declares only other node attestors (as
	// SPIRE serves only the attestors it is configured with).
	DisableJoinToken bool
	// DisableAttestationRateLimit turns off the limit of one AttestAgent
	// per second per client IP (SPIRE's ratelimit { attestation = false }),
	// and with it the cap on attestations pending per IP.
	DisableAttestationRateLimit bool
	// Federation fetches foreign bundles for the trust domain API's
	// RefreshBundle and is told of relationship changes; nil when the
	// server fetches no foreign bundles (RefreshBundle then fails with
	// FailedPrecondition; relationships can still be managed).
	Federation FederationController
	// AttestationFirstMessageTimeout is how long AttestAgent waits for the
	// attestation request after the stream opens; a caller that sends
	// nothing in time gets DeadlineExceeded. Default
	// DefaultAttestationFirstMessageTimeout.
	AttestationFirstMessageTimeout time.Duration
}

// withDefaults validates c and returns a copy with defaults filled in.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.TrustDomain.IsZero() {
		errs = append(errs, errors.New("trust domain is required"))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("store is required"))
	}
	if c.Authority == nil {
		errs = append(errs, errors.New("authority is required"))
	} else if !c.TrustDomain.IsZero() && c.Authority.TrustDomain() != c.TrustDomain {
		errs = append(errs, fmt.Errorf("authority trust domain %q does not match %q",
			c.Authority.TrustDomain(), c.TrustDomain))
	}
	if c.BindAddress == "" {
		errs = append(errs, errors.New("bind address is required"))
	} else if _, _, err := net.SplitHostPort(c.BindAddress); err != nil {
		errs = append(errs, fmt.Errorf("bind address %q: %w", c.BindAddress, err))
	}
	if c.SocketPath == "" {
		errs = append(errs, errors.New("socket path is required"))
	}
	for name, d := range map[string]time.Duration{
		"default X.509-SVID TTL":            c.DefaultX509SVIDTTL,
		"default JWT-SVID TTL":              c.DefaultJWTSVIDTTL,
		"agent TTL":                         c.AgentTTL,
		"attestation first-message timeout": c.AttestationFirstMessageTimeout,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %s", name, d))
		}
	}
	seen := map[string]bool{joinTokenType: true}
	for i, a := range c.NodeAttestors {
		switch {
		case a == nil:
			errs = append(errs, fmt.Errorf("node attestor %d is nil", i))
		case a.Type() == "":
			errs = append(errs, fmt.Errorf("node attestor %d has an empty type", i))
		case seen[a.Type()]:
			errs = append(errs, fmt.Errorf("node attestor %q is configured twice", a.Type()))
		default:
			seen[a.Type()] = true
		}
	}
	if c.EntryPageSize < 0 {
		errs = append(errs, fmt.Errorf("entry page size must not be negative, got %d", c.EntryPageSize))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("server config: %w", err)
	}
	if c.DefaultX509SVIDTTL == 0 {
		c.DefaultX509SVIDTTL = DefaultX509SVIDTTL
	}
	if c.DefaultJWTSVIDTTL == 0 {
		c.DefaultJWTSVIDTTL = DefaultJWTSVIDTTL
	}
	if c.AgentTTL == 0 {
		c.AgentTTL = c.DefaultX509SVIDTTL
	}
	if c.EntryPageSize == 0 {
		c.EntryPageSize = DefaultEntryPageSize
	}
	if c.AttestationFirstMessageTimeout == 0 {
		c.AttestationFirstMessageTimeout = DefaultAttestationFirstMessageTimeout
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	return c, nil
}
