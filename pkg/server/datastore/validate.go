package datastore

import (
	"errors"
	"fmt"
)

// Validate reports whether e can be stored: SPIFFEID and ParentID are
// required, every selector must be well formed and the entry within the
// size limits (see MaxEntrySelectors). It does not judge policy
// (TTL bounds, ID formats); the API layer does.
func (e *Entry) Validate() error {
	switch {
	case e == nil:
		return errors.New("entry: nil")
	case e.SPIFFEID == "":
		return errors.New("entry: spiffe_id is required")
	case e.ParentID == "":
		return fmt.Errorf("entry %q: parent_id is required", e.SPIFFEID)
	}
	if err := e.checkLimits(); err != nil {
		return fmt.Errorf("entry %q: %w", e.SPIFFEID, err)
	}
	for _, s := range e.Selectors {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("entry %q: selectors: %w", e.SPIFFEID, err)
		}
	}
	for i, n := range e.DNSNames {
		if n == "" {
			return fmt.Errorf("entry %q: dns_names[%d] is empty", e.SPIFFEID, i)
		}
	}
	for i, td := range e.FederatesWith {
		if td == "" {
			return fmt.Errorf("entry %q: federates_with[%d] is empty", e.SPIFFEID, i)
		}
	}
	return nil
}

// Validate reports whether a can be stored: SPIFFEID is required and every
// selector must be well formed.
func (a *Agent) Validate() error {
	switch {
	case a == nil:
		return errors.New("agent: nil")
	case a.SPIFFEID == "":
		return errors.New("agent: spiffe_id is required")
	}
	for _, s := range a.Selectors {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("agent %q: selectors: %w", a.SPIFFEID, err)
		}
	}
	return nil
}

// Validate reports whether t can be stored: Token and ExpiresAt are
// required. Errors never repeat the token, which is a secret.
func (t *JoinToken) Validate() error {
	switch {
	case t == nil:
		return errors.New("join token: nil")
	case t.Token == "":
		return errors.New("join token: token is required")
	case t.ExpiresAt.IsZero():
		return errors.New("join token: expires_at is required")
	}
	return nil
}

// Validate reports whether b can be stored: TrustDomain and Data are required.
func (b *Bundle) Validate() error {
	switch {
	case b == nil:
		return errors.New("bundle: nil")
	case b.TrustDomain == "":
		return errors.New("bundle: trust_domain is required")
	case len(b.Data) == 0:
		return fmt.Errorf("bundle %q: data is required", b.TrustDomain)
	}
	return nil
}

// ApplyBundleUpdate runs an UpdateBundle callback on the current bundle
// (nil when none) and checks what it returns: a valid bundle of the same
// trust domain, copied so the store owns its bytes. Stores call it inside
// their update transaction.
func ApplyBundleUpdate(trustDomain string, cur *Bundle, fn func(*Bundle) (*Bundle, error)) (*Bundle, error) {
	next, err := fn(cur)
	if err != nil {
		return nil, err
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	if next.TrustDomain != trustDomain {
		return nil, fmt.Errorf("bundle: update of %q returned a bundle of %q", trustDomain, next.TrustDomain)
	}
	return &Bundle{TrustDomain: trustDomain, Data: append([]byte(nil), next.Data...)}, nil
}
