package sds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// Default resource names, the same as SPIRE's agent.
const (
	DefaultSVIDName       = "default"
	DefaultBundleName     = "ROOTCA"
	DefaultAllBundlesName = "ALL"
)

// Config configures a Handler. Empty names take the defaults above.
type Config struct {
	// Source finds the workload behind each stream; required.
	Source Source
	// DefaultSVIDName names the workload's first SVID.
	DefaultSVIDName string
	// DefaultBundleName names the bundle of the workload's trust domain.
	DefaultBundleName string
	// DefaultAllBundlesName names one validation context with all bundles.
	DefaultAllBundlesName string
	// DisableSPIFFECertValidation serves trusted_ca validation contexts
	// instead of Envoy's SPIFFE certificate validator; Envoy node metadata
	// may override it per stream (see the package doc).
	DisableSPIFFECertValidation bool
	// Log receives stream events; nil discards them.
	Log *slog.Logger
	// Registerer receives the SDS metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Handler serves the SDS v3 service from a Source. It is safe for
// concurrent use by any number of streams.
type Handler struct {
	src     Source
	names   names
	disable bool
	log     *slog.Logger
	metrics *metrics
}

// New returns a Handler for cfg, filling defaults. A nil Source makes every
// call fail with codes.Unavailable rather than panic.
func New(cfg Config) *Handler {
	n := names{svid: cfg.DefaultSVIDName, bundle: cfg.DefaultBundleName, all: cfg.DefaultAllBundlesName}
	if n.svid == "" {
		n.svid = DefaultSVIDName
	}
	if n.bundle == "" {
		n.bundle = DefaultBundleName
	}
	if n.all == "" {
		n.all = DefaultAllBundlesName
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{
		src:     cfg.Source,
		names:   n,
		disable: cfg.DisableSPIFFECertValidation,
		log:     log.With("component", "sds"),
		metrics: newMetrics(cfg.Registerer, log),
	}
}

// Register registers the SecretDiscoveryService on r, e.g. the agent's
// Workload API server or a server of its own.
func (h *Handler) Register(r grpc.ServiceRegistrar) {
	secretv3.RegisterSecretDiscoveryServiceServer(r, &service{h: h})
}

// Serve serves SDS on lis until ctx is done, then stops the server, which
// ends every open stream. It returns nil on cancel.
func (h *Handler) Serve(ctx context.Context, lis net.Listener) error {
	srv := grpc.NewServer()
	h.Register(srv)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case <-ctx.Done():
		srv.Stop()
		<-errc
		return nil
	case err := <-errc:
		if errors.Is(err, grpc.ErrServerStopped) {
			return nil
		}
		return fmt.Errorf("sds: serve %s: %w", lis.Addr(), err)
	}
}

// service adapts Handler to the generated gRPC interface so the protocol
// methods stay off Handler's exported API.
type service struct {
	secretv3.UnimplementedSecretDiscoveryServiceServer
	h *Handler
}

func (s *service) StreamSecrets(stream grpc.BidiStreamingServer[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse]) error {
	return s.h.streamSecrets(stream)
}

func (s *service) DeltaSecrets(stream grpc.BidiStreamingServer[discoveryv3.DeltaDiscoveryRequest, discoveryv3.DeltaDiscoveryResponse]) error {
	return s.h.deltaSecrets(stream)
}

func (s *service) FetchSecrets(ctx context.Context, req *discoveryv3.DiscoveryRequest) (*discoveryv3.DiscoveryResponse, error) {
	return s.h.fetchSecrets(ctx, req)
}
