package oidc

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	"golang.org/x/net/idna"
)

// domains is the allow list of host names the discovery document is
// served under, lower-cased.
type domains map[string]bool

// newDomains checks each name as SPIRE's provider does (a valid host
// name, already in punycode) and builds the allow list.
func newDomains(names []string) (domains, error) {
	d := make(domains, len(names))
	for _, n := range names {
		key, err := domainKey(n)
		if err != nil {
			return nil, err
		}
		d[key] = true
	}
	return d, nil
}

// domainKey returns the allow-list key of a host name: lower-cased, and
// refused unless it is a valid host name already in punycode (xn--…), as
// SPIRE's provider requires.
func domainKey(name string) (string, error) {
	lower := strings.ToLower(name)
	ascii, err := idna.Lookup.ToASCII(lower)
	if err != nil || name == "" {
		return "", fmt.Errorf("domain %q is not a valid host name", name)
	}
	if ascii != lower {
		return "", fmt.Errorf("domain %q must be given in punycode (%q)", name, ascii)
	}
	return ascii, nil
}

// requestHost returns the host name a request was sent to: the
// X-Forwarded-Host a proxy set, else Host, without port.
func requestHost(r *http.Request) string {
	host := r.Host
	if fwd := r.Header.Get("X-Forwarded-Host"); fwd != "" {
		host = fwd
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}

// allow reports why a request's host is not allowed, or nil.
func (d domains) allow(r *http.Request) error {
	host := requestHost(r)
	key, err := domainKey(host)
	if err != nil {
		return err
	}
	if !d[key] {
		return fmt.Errorf("domain %q is not allowed", host)
	}
	return nil
}
