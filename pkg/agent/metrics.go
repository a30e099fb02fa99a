package agent

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the agent's Prometheus metrics. With a nil Registerer they
// are still updated but never exported.
type metrics struct {
	syncDuration  prometheus.Histogram
	syncErrors    prometheus.Counter
	entrySyncs    prometheus.Counter
	entries       prometheus.Gauge
	minted        prometheus.Counter
	svids         prometheus.Gauge
	evicted       prometheus.Counter
	renewals      prometheus.Counter
	attestations  prometheus.Counter
	bundlePushes  prometheus.Counter
	bundleFetches prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		syncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "svidkit_agent_sync_duration_seconds",
			Help:    "Duration of one housekeeping round (renew, bundles, minting).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		syncErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "svidkit_agent_sync_errors_total",
			Help: "Housekeeping rounds and entry syncs that failed.",
		}),
		entrySyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "svidkit_agent_entry_syncs_total",
			Help: "SyncAuthorizedEntries calls made, held or not, successful or not.",
		}),
		entries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "svidkit_agent_entries",
			Help: "Authorized entries known to the agent.",
		}),
		minted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "svidkit_agent_x509_svids_minted_total",
			Help: "Workload X.509-SVIDs minted.",
		}),
		svids: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "svidkit_agent_x509_svids",
			Help: "Workload X.509-SVIDs held: at most x509_svid_cache_max_size, plus those of connected workloads.",
		}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "svidkit_agent_x509_svids_evicted_total",
			Help: "Workload X.509-SVIDs dropped as least recently used beyond x509_svid_cache_max_size.",
		}),
		renewals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "svidkit_agent_svid_renewals_total",
			Help: "Agent SVID renewals.",
		}),
		attestations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "svidkit_agent_attestations_total",
			Help: "Successful node attestations.",
		}),
		bundlePushes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "svidkit_agent_bundle_pushes_total",
			Help: "Bundle changes the server announced on the entry sync, each fetched at once rather than at the next bundle poll.",
		}),
		bundleFetches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "svidkit_agent_bundle_fetches_total",
			Help: "GetBundle calls made (polls and fetches after an announced change).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.syncDuration, m.syncErrors, m.entrySyncs, m.entries, m.minted, m.svids, m.evicted, m.renewals, m.attestations, m.bundlePushes, m.bundleFetches} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}
