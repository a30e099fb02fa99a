package workloadapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/peercred"
	"github.com/svidkit/svidkit/pkg/procid"
	"github.com/svidkit/svidkit/pkg/selector"
)

// Config configures a Handler.
type Config struct {
	// Manager supplies identities and bundles; required.
	Manager Manager
	// Attestor turns a caller into selectors; required.
	Attestor Attestor
	// Log receives call failures; slog.Default() when nil.
	Log *slog.Logger
	// Registerer receives the metrics (active streams, updates sent,
	// attestation latency); none are registered when nil.
	Registerer prometheus.Registerer
	// Services registers further gRPC services on the Workload API socket
	// (the agent's SDS v3 service, as SPIRE's agent serves it there). They
	// get the same peer-credential transport.
	Services []func(grpc.ServiceRegistrar)
}

// Handler implements workload.SpiffeWorkloadAPIServer. Register it on a
// gRPC server that uses peercred credentials, or let Serve do both.
type Handler struct {
	workload.UnimplementedSpiffeWorkloadAPIServer

	mgr     Manager
	att     Attestor
	log     *slog.Logger
	metrics *metrics
	// services are the extra gRPC services Serve registers.
	services []func(grpc.ServiceRegistrar)
	resps    *respCache
	// cfgErr is a configuration error: Serve returns it and every call
	// fails with it, since New has no error result.
	cfgErr error
}

// New returns a Handler. A Config without Manager or Attestor yields a
// Handler whose Serve returns the configuration error.
func New(cfg Config) *Handler {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	var errs []error
	if cfg.Manager == nil {
		errs = append(errs, errors.New("workload api: config: Manager is required"))
	}
	if cfg.Attestor == nil {
		errs = append(errs, errors.New("workload api: config: Attestor is required"))
	}
	return &Handler{
		mgr:      cfg.Manager,
		att:      cfg.Attestor,
		log:      cfg.Log,
		metrics:  newMetrics(cfg.Registerer, cfg.Log),
		services: cfg.Services,
		resps:    newRespCache(),
		cfgErr:   errors.Join(errs...),
	}
}

// securityHeader is the metadata every Workload API client must send, so
// that a browser or other confused deputy cannot be tricked into calling.
const securityHeader = "workload.spiffe.io"

var (
	errNoHeader   = status.Error(codes.InvalidArgument, "security header missing from request")
	errNoIdentity = status.Error(codes.PermissionDenied, "no identity issued")
)

// caller is an attested Workload API caller.
type caller struct {
	method string
	pid    int32
	uid    uint32
	sels   selector.Set
	base   *slog.Logger
}

// log returns a logger naming the call and the caller. It is built only
// when something is logged: slog's With allocates, and most calls log
// nothing.
func (c caller) log() *slog.Logger {
	return c.base.With("method", c.method, "pid", c.pid, "uid", c.uid)
}

// checkHeader verifies the security header; it runs before anything else.
func (h *Handler) checkHeader(ctx context.Context) error {
	if h.cfgErr != nil {
		return status.Error(codes.Internal, h.cfgErr.Error())
	}
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return errNoHeader
	}
	if v := md.Get(securityHeader); len(v) != 1 || v[0] != "true" {
		return errNoHeader
	}
	return nil
}

// attest identifies the caller from its peer credentials.
func (h *Handler) attest(ctx context.Context, method string) (caller, error) {
	info, ok := peercred.FromContext(ctx)
	if !ok {
		h.log.Error("workload api: caller has no peer credentials; is the server using peercred?", "method", method)
		return caller{}, status.Error(codes.Internal, "caller credentials unavailable")
	}
	c := caller{method: method, pid: info.PID, uid: info.UID, base: h.log}
	start := time.Now()
	sels, err := h.att.Attest(ctx, info.Process, info.UID, info.GID)
	h.metrics.attestation.Observe(time.Since(start).Seconds())
	if err != nil {
		c.log().Warn("workload api: attestation failed", "error", err)
		return caller{}, AttestError(err)
	}
	c.sels = sels
	return c, nil
}

// errNotConnector refuses a caller whose connection was made by a process
// that has exited or exec'd since: what /proc tells about its pid now is
// not about the process that connected.
var errNotConnector = status.Error(codes.PermissionDenied,
	"the process that opened this connection has exited or exec'd another program; reconnect")

// AttestError returns the gRPC status error for a failed attestation, for
// the Workload API and the services sharing its socket (SDS): it tells the
// caller no more than whether to reconnect; the details belong in the
// agent's log.
func AttestError(err error) error {
	if errors.Is(err, procid.ErrGone) || errors.Is(err, procid.ErrExeChanged) {
		return errNotConnector
	}
	return status.Error(codes.Internal, "workload attestation failed")
}

// currentUpdate returns the caller's Update as of now.
func (h *Handler) currentUpdate(ctx context.Context, c caller) (*Update, error) {
	sub, err := h.mgr.Subscribe(ctx, c.sels)
	if err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	defer sub.Finish()
	select {
	case u, ok := <-sub.Updates():
		if !ok {
			return nil, errors.New("subscription ended before the first update")
		}
		return u, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
