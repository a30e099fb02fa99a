package config_test

import "github.com/spiffe/go-spiffe/v2/spiffeid"

func spiffeTD(name string) (spiffeid.TrustDomain, error) { return spiffeid.TrustDomainFromString(name) }
