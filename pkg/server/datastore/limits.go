package datastore

import "fmt"

// Size limits of a registration entry. They keep every entry far below
// the 4 MiB gRPC message limit (at most about 370 KiB in API form), so
// that the server can always page entries to agents and admin clients,
// and keep every SQL statement the stores build far below SQLite's 32,766
// bound variables. They are generous for real use: SPIRE entries written
// by hand or by spire-controller-manager carry a handful of selectors and
// DNS names.
const (
	// MaxEntrySelectors bounds the selectors of one entry.
	MaxEntrySelectors = 256
	// MaxSelectorLength bounds one selector in its "type:value" form, in
	// bytes (an image reference with its digest takes a few hundred).
	MaxSelectorLength = 1024
	// MaxEntryDNSNames bounds the DNS names of one entry (each at most
	// 253 bytes, as DNS allows).
	MaxEntryDNSNames = 256
	// MaxEntryFederatesWith bounds the federated trust domains of one
	// entry.
	MaxEntryFederatesWith = 128
	// MaxTrustDomainLength bounds a trust domain name, as the SPIFFE
	// standard does.
	MaxTrustDomainLength = 255
	// MaxSPIFFEIDLength bounds a SPIFFE ID, as the SPIFFE standard does
	// for the whole URI.
	MaxSPIFFEIDLength = 2048
	// MaxEntryIDLength bounds operator-chosen entry IDs, as SPIRE does.
	MaxEntryIDLength = 255
	// MaxEntryHintLength bounds the operator-provided hint.
	MaxEntryHintLength = 1024
	// MaxFilterSelectors bounds the selectors, and separately the trust
	// domains, of an EntryFilter: room for an agent's whole selector set
	// in a subset match, and each selector is two SQL variables.
	MaxFilterSelectors = 1024
)

// checkLimits reports the first of e's fields over its size limit. The
// errors name the field and the limit.
func (e *Entry) checkLimits() error {
	switch {
	case len(e.ID) > MaxEntryIDLength:
		return fmt.Errorf("id: longer than %d bytes", MaxEntryIDLength)
	case len(e.SPIFFEID) > MaxSPIFFEIDLength:
		return fmt.Errorf("spiffe_id: longer than %d bytes", MaxSPIFFEIDLength)
	case len(e.ParentID) > MaxSPIFFEIDLength:
		return fmt.Errorf("parent_id: longer than %d bytes", MaxSPIFFEIDLength)
	case len(e.Selectors) > MaxEntrySelectors:
		return fmt.Errorf("selectors: %d selectors, more than the limit of %d per entry", len(e.Selectors), MaxEntrySelectors)
	case len(e.DNSNames) > MaxEntryDNSNames:
		return fmt.Errorf("dns_names: %d DNS names, more than the limit of %d per entry", len(e.DNSNames), MaxEntryDNSNames)
	case len(e.FederatesWith) > MaxEntryFederatesWith:
		return fmt.Errorf("federates_with: %d trust domains, more than the limit of %d per entry", len(e.FederatesWith), MaxEntryFederatesWith)
	case len(e.Hint) > MaxEntryHintLength:
		return fmt.Errorf("hint: longer than %d bytes", MaxEntryHintLength)
	}
	for i, s := range e.Selectors {
		if n := len(s.Type) + 1 + len(s.Value); n > MaxSelectorLength {
			return fmt.Errorf("selectors[%d]: %d bytes, longer than the limit of %d bytes per selector", i, n, MaxSelectorLength)
		}
	}
	for i, n := range e.DNSNames {
		if len(n) > 253 {
			return fmt.Errorf("dns_names[%d]: longer than 253 bytes", i)
		}
	}
	for i, td := range e.FederatesWith {
		if len(td) > MaxTrustDomainLength {
			return fmt.Errorf("federates_with[%d]: longer than %d bytes", i, MaxTrustDomainLength)
		}
	}
	return nil
}
