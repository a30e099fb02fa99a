package ca

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// Defaults applied by New to zero Config fields. They follow SPIRE's.
const (
	DefaultKeyType               = "ec-p256"
	DefaultCATTL                 = 24 * time.Hour
	DefaultX509SVIDTTL           = time.Hour
	DefaultJWTSVIDTTL            = 5 * time.Minute
	DefaultRotationCheckInterval = 10 * time.Second
	DefaultBundleRefreshHint     = 5 * time.Minute
)

// Clock tells the Manager the time. Tests inject a fake one to drive rotation.
type Clock interface {
	Now() time.Time
}

// BundleStore is where the Manager publishes the trust domain's bundle,
// shared with the other servers of the trust domain. datastore.Store
// satisfies it; UpdateBundle is datastore.Store's atomic read-modify-write.
type BundleStore interface {
	UpdateBundle(ctx context.Context, trustDomain string, fn func(cur *datastore.Bundle) (*datastore.Bundle, error)) (*datastore.Bundle, error)
}

// Config configures a Manager. Zero fields get the defaults above.
type Config struct {
	// TrustDomain is the trust domain the CA signs for (required).
	TrustDomain spiffeid.TrustDomain
	// KeyType is SPIRE's ca_key_type: "ec-p256" (default), "ec-p384",
	// "rsa-2048" or "rsa-4096". It applies to both the X.509 CA and the JWT
	// key (ES256, ES384 or RS256). Keys loaded from the KeyStore keep their
	// own type.
	KeyType string
	// CATTL is the lifetime of each X.509 CA and JWT signing key.
	CATTL time.Duration
	// X509SVIDTTL and JWTSVIDTTL are the default SVID lifetimes.
	X509SVIDTTL time.Duration
	JWTSVIDTTL  time.Duration
	// Subject is the CA certificate subject (default C=US, O=SPIFFE); a
	// serialNumber attribute is added so successive CAs differ.
	Subject pkix.Name
	// SVIDSubject is the X.509-SVID subject (default C=US, O=SPIRE, as in
	// SPIRE); the CN is the SVID's first DNS name.
	SVIDSubject pkix.Name
	// JWTIssuer, when set, becomes the iss claim of every JWT-SVID.
	JWTIssuer string
	// Keys persists the signing keys (required).
	Keys KeyStore
	// Bundles receives the published bundle (required).
	Bundles BundleStore
	// Clock defaults to the system clock.
	Clock Clock
	// RotationCheckInterval is how often Run calls Rotate.
	RotationCheckInterval time.Duration
	// BundleRefreshHint is the refresh_hint of the published bundle.
	BundleRefreshHint time.Duration
	// Log defaults to slog.Default().
	Log *slog.Logger
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// withDefaults validates c and returns a copy with defaults filled in, plus
// the parsed key type.
func (c Config) withDefaults() (Config, keyType, error) {
	if c.TrustDomain.IsZero() {
		return c, keyType{}, errors.New("trust_domain is required")
	}
	if c.Keys == nil {
		return c, keyType{}, errors.New("key store is required")
	}
	if c.Bundles == nil {
		return c, keyType{}, errors.New("bundle store is required")
	}
	if c.KeyType == "" {
		c.KeyType = DefaultKeyType
	}
	kt, err := parseKeyType(c.KeyType)
	if err != nil {
		return c, keyType{}, err
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"ca_ttl", &c.CATTL, DefaultCATTL},
		{"default_x509_svid_ttl", &c.X509SVIDTTL, DefaultX509SVIDTTL},
		{"default_jwt_svid_ttl", &c.JWTSVIDTTL, DefaultJWTSVIDTTL},
		{"rotation_check_interval", &c.RotationCheckInterval, DefaultRotationCheckInterval},
		{"bundle_refresh_hint", &c.BundleRefreshHint, DefaultBundleRefreshHint},
	}
	for _, d := range durations {
		switch {
		case *d.v < 0:
			return c, keyType{}, fmt.Errorf("%s: must not be negative, got %s", d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	// The bundle document carries whole seconds; round up so the stored
	// bundle compares equal to the one built in memory.
	c.BundleRefreshHint = (c.BundleRefreshHint + time.Second - 1) / time.Second * time.Second
	if len(c.Subject.Country) == 0 && len(c.Subject.Organization) == 0 && c.Subject.CommonName == "" {
		c.Subject = pkix.Name{Country: []string{"US"}, Organization: []string{"SPIFFE"}}
	}
	if len(c.SVIDSubject.Country) == 0 && len(c.SVIDSubject.Organization) == 0 {
		c.SVIDSubject = pkix.Name{Country: []string{"US"}, Organization: []string{"SPIRE"}}
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c, kt, nil
}
