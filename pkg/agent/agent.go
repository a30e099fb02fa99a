// Package agent is the svidkit node agent core: it attests the node to the
// server (join token or Kubernetes PSAT, through a NodeAttestor), keeps its
// own X.509-SVID fresh (renewal, or re-attestation for PSAT), syncs the entries the
// node is authorized for, mints and rotates their X.509-SVIDs and feeds them,
// with the trust bundles, to the cache that serves the Workload API.
//
// Run owns two loops: the entry sync, which an svidkit server holds until
// the agent's entries or bundles change, and the main loop, which renews,
// refreshes bundles and mints (at once when the entry sync reports a
// change: entries to mint for, or bundles to fetch). The
// cache is the only state shared with Workload API callers.
package agent

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"

	"github.com/svidkit/svidkit/pkg/agent/cache"
	"github.com/svidkit/svidkit/pkg/agent/svidstore"
	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
)

// Key store kinds for Config.KeyStore.
const (
	// KeyStoreDisk keeps the agent key (with its SVID) under DataDir, so a
	// restarted agent reuses its identity.
	KeyStoreDisk = "disk"
	// KeyStoreMemory keeps the agent key in memory only; a restarted agent
	// attests again.
	KeyStoreMemory = "memory"
)

// DefaultSyncInterval is Config.SyncInterval when zero. Against an
// svidkit server entries do not depend on it (the server holds each sync
// until they change); against a SPIRE server, which does not, the agent
// polls at this rate: five times faster than SPIRE's own agent (5 s), for
// a fraction of the server load of the 200 ms svidkit used to poll at.
const DefaultSyncInterval = time.Second

// DefaultSyncWait is Config.SyncWait when zero: how long an svidkit server
// may hold an entry sync with nothing to report. It bounds the idle sync
// rate (one call per agent per DefaultSyncWait) and stays below common
// proxy idle timeouts; servers cap it at 30 s.
const DefaultSyncWait = 25 * time.Second

// Clock tells the time; SVID expiry and rotation decisions use it, so tests
// can drive them.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Config configures an Agent.
type Config struct {
	// TrustDomain is the trust domain the agent joins. Required.
	TrustDomain spiffeid.TrustDomain
	// ServerAddress is the servers' host:port, or a gRPC DNS target
	// "dns://[dns-server]/host:port". A name may resolve to several
	// servers: the agent connects to all of them, spreads its calls across
	// them and fails over when one goes away. Required.
	ServerAddress string
	// TrustBundle authenticates the server on first contact. A bundle
	// stored in DataDir by an earlier run takes precedence. It may be empty
	// only with InsecureBootstrap.
	TrustBundle []*x509.Certificate
	// InsecureBootstrap skips verifying the server during attestation when
	// no bundle is known; later calls verify against the server's bundle.
	InsecureBootstrap bool
	// NodeAttestor attests the node when no valid stored identity exists,
	// and again whenever the agent re-attests. Nil with an empty JoinToken
	// means the agent can only reuse a stored identity.
	NodeAttestor NodeAttestor
	// JoinToken is shorthand for NodeAttestor: JoinToken{Token: JoinToken};
	// set at most one of the two.
	JoinToken string
	// DataDir holds the agent's identity and bundle. Required.
	DataDir string
	// KeyStore is KeyStoreDisk (default) or KeyStoreMemory.
	KeyStore string
	// SyncInterval is the period of the agent's housekeeping (SVID
	// rotation, renewal, bundle refresh) and of entry syncs with servers
	// that cannot hold syncs until entries change (SPIRE); it is also the
	// first retry delay after errors. DefaultSyncInterval if zero.
	SyncInterval time.Duration
	// SyncWait is how long an svidkit server may hold an entry sync when
	// nothing changed (svidkit servers cap it at 30 s); DefaultSyncWait if
	// zero.
	SyncWait time.Duration
	// JWTSVIDCacheMaxSize is the most JWT-SVIDs kept for reuse, least
	// recently used dropped first; cache.DefaultJWTSVIDCacheMaxSize if
	// zero.
	JWTSVIDCacheMaxSize int
	// X509SVIDCacheMaxSize is the most workload X.509-SVIDs held beyond
	// those of connected workloads, least recently used evicted first
	// (SPIRE's x509_svid_cache_max_size); cache.DefaultX509SVIDCacheMaxSize
	// if zero. Entries without a held SVID are minted when a workload asks.
	X509SVIDCacheMaxSize int
	// Clock defaults to the system clock.
	Clock Clock
	// Log defaults to slog.Default().
	Log *slog.Logger
	// Registerer receives the agent's metrics; nil disables them.
	Registerer prometheus.Registerer
}

// Agent is a running node agent. Create it with New and start it with Run.
type Agent struct {
	cfg Config
	log *slog.Logger
	// attestor is cfg.NodeAttestor or the join token one; nil when none is
	// configured.
	attestor NodeAttestor
	// stallLimit is how long the control loop may go without completing
	// a round before Live reports false.
	stallLimit time.Duration
	store      *svidstore.Store
	cache      *cache.Cache
	metrics    *metrics
	// serverID is the SPIFFE ID every server of the trust domain presents.
	serverID spiffeid.ID
	// target is the gRPC target of the servers (see serverTarget).
	target string

	attested chan struct{}
	ready    atomic.Bool
	running  atomic.Bool
	stopped  atomic.Bool
	// progress is the Clock time (Unix nanoseconds) at which the control
	// loop last completed a round or an attestation attempt.
	progress atomic.Int64
	// synced is set by the entry sync after its first successful sync.
	synced atomic.Bool
	// entriesChanged (size one) wakes the main loop to mint after the
	// entry sync changed the cached entries.
	entriesChanged chan struct{}
	// bundlesChanged (size one) wakes the main loop to fetch the bundles
	// at once after the server announced that they changed.
	bundlesChanged chan struct{}
	// bundlesAnnounced is set while the server's entry syncs carry a
	// bundles digest: it then announces every bundle change, and the
	// bundle poll is only a safety net (bundlePollPeriods).
	bundlesAnnounced atomic.Bool
	// bundleFollowUntil (Unix nanoseconds) ends the short bundle poll that
	// follows an announced change (bundlePoll.follow).
	bundleFollowUntil atomic.Int64
	// denied (size one) hands the main loop the error of an entry sync the
	// server kept denying, for it to attest again.
	denied chan error

	// svid is the agent's current identity, read by every TLS handshake.
	svid atomic.Pointer[svidstore.Identity]
	// trust verifies the server; replaced when the bundle changes.
	trust atomic.Pointer[x509bundle.Bundle]
	// conn is the mTLS connection to the server; swapped after renewal.
	conn atomic.Pointer[grpc.ClientConn]

	// Owned by the Run loop.
	svidReceived time.Time // when svid arrived; zero for a stored one
	// reattestable is the server's Reattestable answer to the last
	// attestation (or the attestor's claim for a stored SVID): the agent
	// then re-attests at half life instead of calling RenewAgent.
	reattestable    bool
	lastBundleFetch time.Time
	// bundlePoll are the bundle poll periods (defaultBundlePoll; tests
	// shorten them).
	bundlePoll bundlePollPeriods
	federated  map[spiffeid.TrustDomain]*spiffebundle.Bundle
}

// New validates cfg, fills defaults and prepares the data directory. It does
// not contact the server; Run does.
func New(cfg Config) (*Agent, error) {
	if cfg.TrustDomain.IsZero() {
		return nil, errors.New("agent: trust domain is required")
	}
	target, err := serverTarget(cfg.ServerAddress)
	if err != nil {
		return nil, fmt.Errorf("agent: server address %q: %w", cfg.ServerAddress, err)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("agent: data directory is required")
	}
	switch cfg.KeyStore {
	case "":
		cfg.KeyStore = KeyStoreDisk
	case KeyStoreDisk, KeyStoreMemory:
	default:
		return nil, fmt.Errorf("agent: key store %q: want %q or %q", cfg.KeyStore, KeyStoreDisk, KeyStoreMemory)
	}
	if cfg.SyncInterval < 0 {
		return nil, fmt.Errorf("agent: sync interval %v must not be negative", cfg.SyncInterval)
	}
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = DefaultSyncInterval
	}
	if cfg.X509SVIDCacheMaxSize < 0 {
		return nil, fmt.Errorf("agent: X.509-SVID cache size %d must not be negative", cfg.X509SVIDCacheMaxSize)
	}
	if cfg.SyncWait < 0 {
		return nil, fmt.Errorf("agent: sync wait %v must not be negative", cfg.SyncWait)
	}
	if cfg.SyncWait == 0 {
		cfg.SyncWait = DefaultSyncWait
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	attestor := cfg.NodeAttestor
	if cfg.JoinToken != "" {
		if attestor != nil {
			return nil, errors.New("agent: set either a join token or a node attestor, not both")
		}
		attestor = JoinToken{Token: cfg.JoinToken}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	serverID, err := spiffeid.FromSegments(cfg.TrustDomain, "spire", "server")
	if err != nil {
		return nil, fmt.Errorf("agent: server ID: %w", err)
	}
	store, err := svidstore.New(svidstore.Config{Dir: cfg.DataDir, KeyInMemory: cfg.KeyStore == KeyStoreMemory})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a := &Agent{
		cfg:        cfg,
		log:        cfg.Log,
		attestor:   attestor,
		stallLimit: 2 * (iterationTimeout + max(maxBackoff, cfg.SyncInterval)),
		store:      store,
		metrics:    m,
		serverID:   serverID,
		target:     target,
		attested:   make(chan struct{}),

		entriesChanged: make(chan struct{}, 1),
		bundlesChanged: make(chan struct{}, 1),
		denied:         make(chan error, 1),
		bundlePoll:     defaultBundlePoll,
	}
	a.cache = cache.New(cache.Config{Clock: cfg.Clock, Log: cfg.Log, JWTMinter: jwtMinter{a: a},
		JWTSVIDCacheMaxSize: cfg.JWTSVIDCacheMaxSize, X509SVIDCacheMaxSize: cfg.X509SVIDCacheMaxSize})
	return a, nil
}

// Manager returns the SVID cache the Workload API serves from. It is usable
// before Run; subscribers get identities once the agent has synced.
func (a *Agent) Manager() workloadapi.Manager { return a.cache }

// Attested is closed once the agent holds a valid identity, loaded from
// DataDir or obtained by attestation.
func (a *Agent) Attested() <-chan struct{} { return a.attested }

// Ready reports whether the agent can serve workloads: it holds an
// unexpired SVID, and after attestation its first sync of entries and
// their SVIDs has completed. The daemon adds that the Workload API socket
// is listening.
func (a *Agent) Ready() bool {
	return a.ready.Load() && a.svidValid(a.cfg.Clock.Now())
}

// Live reports whether the agent is working or can still recover without a
// restart; a liveness probe restarts it when it reports false. Precisely,
// Live is true before Run starts, false after Run returned, and otherwise
// true when both hold:
//
//   - the control loop made progress: it completed a housekeeping round
//     (successful or not) or an attestation attempt within the last
//     2×(30 s round timeout + max(10 s backoff cap, SyncInterval)), so a
//     loop stuck on a call that never returns is noticed;
//   - the agent holds an SVID that has not expired, or it is still in its
//     first attestation of this run (making attempts, as checked above):
//     an unreachable server at start is waited for, not restarted for.
//
// So an agent whose SVID expired and whose re-attestation keeps failing
// (a PSAT agent whose token the server rejects) is not live. Live reads
// atomics only and is safe for concurrent use.
func (a *Agent) Live() bool {
	if !a.running.Load() {
		return true
	}
	if a.stopped.Load() {
		return false
	}
	now := a.cfg.Clock.Now()
	if now.Sub(time.Unix(0, a.progress.Load())) > a.stallLimit {
		return false
	}
	select {
	case <-a.attested:
		return a.svidValid(now)
	default:
		return true
	}
}

// svidValid reports whether the agent holds an SVID unexpired at now.
func (a *Agent) svidValid(now time.Time) bool {
	id := a.svid.Load()
	return id != nil && now.Before(id.Chain[0].NotAfter)
}

// progressed records that the control loop completed a step, for Live.
func (a *Agent) progressed() { a.progress.Store(a.cfg.Clock.Now().UnixNano()) }
