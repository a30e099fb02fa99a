package server

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// entryFromProto validates an API entry and converts it to the stored
// form. Errors name the offending field.
func entryFromProto(e *types.Entry, td spiffeid.TrustDomain) (*datastore.Entry, error) {
	if e == nil {
		return nil, errors.New("entry: is required")
	}
	if err := validateEntryID(e.Id); err != nil {
		return nil, err
	}
	id, err := parseWorkloadID("spiffe_id", e.SpiffeId, td)
	if err != nil {
		return nil, err
	}
	parent, err := parseMemberID("parent_id", e.ParentId, td)
	if err != nil {
		return nil, err
	}
	if len(e.Selectors) == 0 {
		return nil, errors.New("selectors: at least one selector is required")
	}
	sels, err := parseSelectors("selectors", e.Selectors)
	if err != nil {
		return nil, err
	}
	if e.X509SvidTtl < 0 {
		return nil, fmt.Errorf("x509_svid_ttl: must not be negative, got %d", e.X509SvidTtl)
	}
	if e.JwtSvidTtl < 0 {
		return nil, fmt.Errorf("jwt_svid_ttl: must not be negative, got %d", e.JwtSvidTtl)
	}
	if e.ExpiresAt < 0 {
		return nil, fmt.Errorf("expires_at: must not be negative, got %d", e.ExpiresAt)
	}
	for i, name := range e.DnsNames {
		if err := validateDNSName(name); err != nil {
			return nil, fmt.Errorf("dns_names[%d]: %w", i, err)
		}
	}
	// Stored by name, as bundles are: SPIRE's CLI sends spiffe://<td>.
	federatesWith := make([]string, len(e.FederatesWith))
	for i, name := range e.FederatesWith {
		td, err := spiffeid.TrustDomainFromString(name)
		if err != nil {
			return nil, fmt.Errorf("federates_with[%d]: %q: %w", i, name, err)
		}
		federatesWith[i] = td.Name()
	}
	out := &datastore.Entry{
		ID:             e.Id,
		SPIFFEID:       id.String(),
		ParentID:       parent.String(),
		Selectors:      sels,
		X509SVIDTTL:    e.X509SvidTtl,
		JWTSVIDTTL:     e.JwtSvidTtl,
		DNSNames:       append([]string(nil), e.DnsNames...),
		Hint:           e.Hint,
		Admin:          e.Admin,
		Downstream:     e.Downstream,
		FederatesWith:  federatesWith,
		ExpiresAt:      e.ExpiresAt,
		RevisionNumber: e.RevisionNumber,
	}
	// The size limits (datastore.MaxEntrySelectors and the others) keep
	// every entry small enough to page to agents and admin clients.
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

// validateDNSName reports whether name is a valid DNS name (RFC 1123
// labels), optionally with a leading "*." wildcard label.
func validateDNSName(name string) error {
	if name == "" {
		return errors.New("empty DNS name")
	}
	if len(name) > 253 {
		return fmt.Errorf("DNS name %q is longer than 253 characters", name)
	}
	labels := strings.Split(strings.TrimPrefix(name, "*."), ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("DNS name %q has an empty or over-long label", name)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("DNS name %q has a label starting or ending with '-'", name)
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("DNS name %q has invalid character %q", name, c)
			}
		}
	}
	return nil
}

// validateEntryID checks an optional operator-chosen entry ID: at most
// datastore.MaxEntryIDLength printable ASCII characters.
func validateEntryID(id string) error {
	if len(id) > datastore.MaxEntryIDLength {
		return fmt.Errorf("id: longer than %d bytes", datastore.MaxEntryIDLength)
	}
	for _, c := range id {
		if c < 0x21 || c > 0x7e {
			return fmt.Errorf("id: %q contains a character outside printable ASCII", id)
		}
	}
	return nil
}

// ValidateEntry reports whether e passes the checks the entry API applies
// to a created entry (IDs in td, selectors, TTLs, DNS names, limits), so
// that in-process writers such as the Kubernetes registrar store nothing
// the API would refuse.
func ValidateEntry(e *datastore.Entry, td spiffeid.TrustDomain) error {
	_, err := entryFromProto(protoEntry(e), td)
	return err
}
