package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// metrics counts RPCs and signed SVIDs.
type metrics struct {
	rpcs   *prometheus.CounterVec
	signed *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		rpcs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "svidkit", Subsystem: "server", Name: "rpcs_total",
			Help: "RPCs handled, by full method name and gRPC status code.",
		}, []string{"method", "code"}),
		signed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "svidkit", Subsystem: "server", Name: "svids_signed_total",
			Help: "SVIDs signed, by kind (agent, x509, jwt).",
		}, []string{"kind"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.rpcs, err = register(reg, m.rpcs); err != nil {
		return nil, err
	}
	if m.signed, err = register(reg, m.signed); err != nil {
		return nil, err
	}
	return m, nil
}

// svidSigned counts one signed SVID of the given kind.
func (m *metrics) svidSigned(kind string) { m.signed.WithLabelValues(kind).Inc() }

func (m *metrics) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	m.rpcs.WithLabelValues(info.FullMethod, status.Code(err).String()).Inc()
	return resp, err
}

func (m *metrics) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	err := handler(srv, ss)
	m.rpcs.WithLabelValues(info.FullMethod, status.Code(err).String()).Inc()
	return err
}

// register registers c, reusing an identical collector already registered
// (several servers in one process, as in tests, share the registry).
func register(reg prometheus.Registerer, c *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(*prometheus.CounterVec); ok {
			return existing, nil
		}
	}
	return nil, fmt.Errorf("register metrics: %w", err)
}
