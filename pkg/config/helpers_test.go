package config_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/config"
)

func spiffeTD(name string) (spiffeid.TrustDomain, error) { return spiffeid.TrustDomainFromString(name) }

func td(t testing.TB, name string) spiffeid.TrustDomain {
	t.Helper()
	v, err := spiffeid.TrustDomainFromString(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func spiffeID(t testing.TB, s string) spiffeid.ID {
	t.Helper()
	v, err := spiffeid.FromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// federationEqual compares two Federation values, following pointers.
func federationEqual(a, b config.Federation) bool { return reflect.DeepEqual(a, b) }

// dumpFederation renders f with its pointers followed, for comparisons
// and messages.
func dumpFederation(f config.Federation) string {
	s := "{"
	if be := f.BundleEndpoint; be != nil {
		c := *be
		c.ServingCertFile = nil
		s += fmt.Sprintf("bundle_endpoint:%+v", c)
		if be.ServingCertFile != nil {
			s += fmt.Sprintf(" serving_cert_file:%+v", *be.ServingCertFile)
		}
	}
	for _, fw := range f.FederatesWith {
		s += fmt.Sprintf(" federates_with:%+v", fw)
	}
	return s + "}"
}
