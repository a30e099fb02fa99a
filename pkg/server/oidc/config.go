package oidc

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svidkit/svidkit/pkg/server/ca"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultMaxKeys is the most keys the JWKS carries: AWS IAM refuses
	// an OIDC provider whose key set holds more than 100.
	DefaultMaxKeys = 100
	// DefaultMaxConnections bounds the connections served at once.
	DefaultMaxConnections = 1024
)

// KeySource is what the endpoint needs from the CA; *ca.Manager
// implements it.
type KeySource interface {
	// JWTAuthorities returns the published JWT keys, newest first.
	JWTAuthorities() []ca.JWTAuthority
	// SubscribeBundle signals every change of the published bundle on a
	// channel that holds one value, so bursts collapse.
	SubscribeBundle() (updates <-chan struct{}, cancel func())
}

// Config configures a Server.
type Config struct {
	// Address is the listen address, host:port. Required.
	Address string
	// Issuer is the discovery document's issuer, the URL relying parties
	// are configured with; JWT-SVIDs must carry it as their iss claim.
	// Required: an absolute https URL (http with AllowInsecureScheme).
	Issuer string
	// JWKSURI is the discovery document's jwks_uri; default the issuer's
	// scheme and host with the issuer's path + "/keys", as SPIRE's
	// provider derives it from jwt_issuer.
	JWKSURI string
	// Domains are the host names the discovery document is served under
	// (matched against Host, or X-Forwarded-Host when a proxy sets it);
	// default the issuer's host.
	Domains []string
	// SetKeyUse sets "use": "sig" on every key (SPIRE's set_key_use), for
	// relying parties that require it.
	SetKeyUse bool
	// GetCertificate serves TLS (see package servingcert). Nil means plain
	// HTTP, which New allows only with AllowInsecureScheme on a loopback
	// address, for a TLS-terminating proxy on the same host or a test.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// AllowInsecureScheme permits plain HTTP on loopback and http issuer
	// and JWKS URLs (SPIRE's allow_insecure_scheme).
	AllowInsecureScheme bool
	// Keys provides the JWT keys. Required.
	Keys KeySource
	// MaxKeys caps the keys served (the newest are kept); default
	// DefaultMaxKeys.
	MaxKeys int
	// MaxConnections caps the connections served at once; default
	// DefaultMaxConnections.
	MaxConnections int
	// Log defaults to slog.Default().
	Log *slog.Logger
	// Registerer receives the endpoint's metrics; nil disables them.
	Registerer prometheus.Registerer
}

// withDefaults validates c and returns a copy with defaults filled in.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.Keys == nil {
		errs = append(errs, errors.New("key source is required"))
	}
	issuer, err := checkURL("issuer", c.Issuer, c.AllowInsecureScheme)
	if err != nil {
		errs = append(errs, err)
	}
	if c.JWKSURI != "" {
		if _, err := checkURL("jwks_uri", c.JWKSURI, c.AllowInsecureScheme); err != nil {
			errs = append(errs, err)
		}
	} else if issuer != nil {
		c.JWKSURI = (&url.URL{Scheme: issuer.Scheme, Host: issuer.Host, Path: path.Join("/", issuer.Path, "keys")}).String()
	}
	if len(c.Domains) == 0 && issuer != nil {
		c.Domains = []string{issuer.Hostname()}
	}
	if err := checkAddress(c.Address, c.GetCertificate == nil, c.AllowInsecureScheme); err != nil {
		errs = append(errs, err)
	}
	if c.MaxKeys < 0 || c.MaxConnections < 0 {
		errs = append(errs, fmt.Errorf("max keys (%d) and max connections (%d) must not be negative", c.MaxKeys, c.MaxConnections))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("oidc: config: %w", err)
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = DefaultMaxKeys
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c, nil
}

// checkURL parses an issuer or JWKS URL: absolute, https (or http when
// insecure is allowed), with a host and no query or fragment (OpenID
// Connect Discovery 1.0, section 3).
func checkURL(name, s string, allowHTTP bool) (*url.URL, error) {
	if s == "" {
		return nil, fmt.Errorf("%s is required", name)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s %q: %w", name, s, err)
	case u.Scheme == "http" && !allowHTTP:
		return nil, fmt.Errorf("%s %q: an http URL needs allow_insecure_scheme", name, s)
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, fmt.Errorf("%s %q: want an https URL", name, s)
	case u.Host == "":
		return nil, fmt.Errorf("%s %q: missing host", name, s)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return nil, fmt.Errorf("%s %q: must not carry a query, fragment or user", name, s)
	}
	return u, nil
}

// checkAddress checks the listen address; plain HTTP is allowed only
// with allowInsecure and only on a loopback IP, where no other host can
// reach (or tamper with) the keys on the way.
func checkAddress(addr string, plain, allowInsecure bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if !plain {
		return nil
	}
	if !allowInsecure {
		return errors.New("no serving certificate: plain HTTP needs allow_insecure_scheme and a loopback address")
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q: plain HTTP (allow_insecure_scheme) is served only on a loopback IP such as 127.0.0.1 or ::1; configure serving_cert_file to serve elsewhere", addr)
	}
	return nil
}
