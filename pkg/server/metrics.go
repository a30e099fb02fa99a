package server

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/metricreg"
)

// metrics counts RPCs, signed SVIDs and held entry syncs.
type metrics struct {
	rpcs   *prometheus.CounterVec
	signed *prometheus.CounterVec
	// holds counts held SyncAuthorizedEntries calls by how the hold ended.
	holds *prometheus.CounterVec
	// held is the number of SyncAuthorizedEntries calls held right now.
	held prometheus.Gauge
	// wakeups counts held syncs woken to re-read what they wait on, by
	// cause: the work a change costs the server.
	wakeups *prometheus.CounterVec

	// rpcCounters caches the rpcs child of each (method, code), so the hot
	// path skips hashing the label values on every RPC.
	rpcCounters sync.Map // rpcLabels -> prometheus.Counter
	// signedCounters caches the signed child of each kind.
	signedCounters sync.Map // string -> prometheus.Counter
}

type rpcLabels struct {
	method string
	code   codes.Code
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
		holds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "svidkit", Subsystem: "server", Name: "entry_sync_holds_total",
			Help: "SyncAuthorizedEntries calls held until the caller's entries changed, by result " +
				"(changed, timeout, canceled, stopped, denied, error).",
		}, []string{"result"}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "svidkit", Subsystem: "server", Name: "entry_syncs_held",
			Help: "SyncAuthorizedEntries calls currently held until the caller's entries change.",
		}),
		wakeups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "svidkit", Subsystem: "server", Name: "entry_sync_hold_wakeups_total",
			Help: "Held SyncAuthorizedEntries calls woken to re-read the caller's entries and bundles, by cause " +
				"(entries, bundles, agent, expiry); a wake-up that finds them unchanged holds the call again.",
		}, []string{"cause"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.rpcs, err = metricreg.Register(reg, m.rpcs); err != nil {
		return nil, err
	}
	if m.signed, err = metricreg.Register(reg, m.signed); err != nil {
		return nil, err
	}
	if m.holds, err = metricreg.Register(reg, m.holds); err != nil {
		return nil, err
	}
	if m.held, err = metricreg.Register(reg, m.held); err != nil {
		return nil, err
	}
	if m.wakeups, err = metricreg.Register(reg, m.wakeups); err != nil {
		return nil, err
	}
	return m, nil
}

// svidSigned counts one signed SVID of the given kind.
func (m *metrics) svidSigned(kind string) {
	c, ok := m.signedCounters.Load(kind)
	if !ok {
		c, _ = m.signedCounters.LoadOrStore(kind, m.signed.WithLabelValues(kind))
	}
	c.(prometheus.Counter).Inc()
}

// syncHeld counts one held sync that ended with result.
func (m *metrics) syncHeld(result string) {
	m.holds.WithLabelValues(result).Inc()
}

// holdWoken counts one wake-up of a held sync by cause.
func (m *metrics) holdWoken(cause string) {
	m.wakeups.WithLabelValues(cause).Inc()
}

// rpcDone counts one finished RPC.
func (m *metrics) rpcDone(method string, err error) {
	l := rpcLabels{method: method, code: status.Code(err)}
	c, ok := m.rpcCounters.Load(l)
	if !ok {
		c, _ = m.rpcCounters.LoadOrStore(l, m.rpcs.WithLabelValues(l.method, l.code.String()))
	}
	c.(prometheus.Counter).Inc()
}

func (m *metrics) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	m.rpcDone(info.FullMethod, err)
	return resp, err
}

func (m *metrics) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	err := handler(srv, ss)
	m.rpcDone(info.FullMethod, err)
	return err
}
