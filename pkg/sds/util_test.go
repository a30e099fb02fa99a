package sds_test

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/prometheus/client_golang/prometheus"
)

var errFake = errors.New("workload attestation failed")

func deadline() <-chan time.Time { return time.After(waitTime) }

// waitFor waits until cond holds, re-checking whenever a watch of src
// closes.
func waitFor(t *testing.T, cond func() bool, src *fakeSource) {
	t.Helper()
	end := deadline()
	for !cond() {
		select {
		case <-src.closed:
		case <-end:
			t.Fatal("condition not met before deadline")
		}
	}
}

func keys(m map[string]*tlsv3.Secret) []string { return slices.Sorted(maps.Keys(m)) }

// counter sums the samples of the metric family name.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// spiffeTrustDomains returns the trust domain names of a validation
// context that uses the SPIFFE validator, failing on any other shape.
func spiffeTrustDomains(t *testing.T, s *tlsv3.Secret) []string {
	t.Helper()
	vc := s.GetValidationContext()
	if vc == nil {
		t.Fatalf("secret %q is not a validation context", s.GetName())
	}
	cv := vc.GetCustomValidatorConfig()
	if cv.GetName() != "envoy.tls.cert_validator.spiffe" || vc.GetTrustedCa() != nil {
		t.Fatalf("secret %q: validator %q, trusted_ca set %v; want the SPIFFE validator only", s.GetName(), cv.GetName(), vc.GetTrustedCa() != nil)
	}
	cfg := &tlsv3.SPIFFECertValidatorConfig{}
	if err := cv.GetTypedConfig().UnmarshalTo(cfg); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, td := range cfg.GetTrustDomains() {
		if len(td.GetTrustBundle().GetInlineBytes()) == 0 {
			t.Fatalf("trust domain %q has no inline bundle", td.GetName())
		}
		out = append(out, td.GetName())
	}
	return out
}
