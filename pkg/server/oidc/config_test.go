package oidc_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/testclock"
	"github.com/svidkit/svidkit/pkg/server/oidc"
)

// TestNewRefuses: New refuses what cannot work or would be unsafe, saying
// why: plain HTTP without allow_insecure_scheme or off loopback, http
// URLs without it, issuers relying parties refuse, host names that never
// match, a port in use.
func TestNewRefuses(t *testing.T) {
	m := newCA(t, testclock.New(time.Now()), "", 0)
	cert, _ := webCert(t, "oidc.test")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	tlsCfg := func(mod func(*oidc.Config)) oidc.Config {
		c := oidc.Config{Address: "127.0.0.1:0", Issuer: issuer, GetCertificate: cert.GetCertificate, Keys: m, Log: quietLog()}
		mod(&c)
		return c
	}
	plainCfg := func(mod func(*oidc.Config)) oidc.Config {
		c := insecureConfig(m, "http://oidc.test")
		c.Log = quietLog()
		mod(&c)
		return c
	}
	for _, tc := range []struct {
		name    string
		cfg     oidc.Config
		wantErr string // empty: accepted
	}{
		{"TLS on any address", tlsCfg(func(c *oidc.Config) { c.Address = "0.0.0.0:0" }), ""},
		{"plain HTTP on loopback", plainCfg(func(*oidc.Config) {}), ""},
		{"plain HTTP on 127.0.0.2", plainCfg(func(c *oidc.Config) { c.Address = "127.0.0.2:0" }), ""},
		{"plain HTTP without allow_insecure_scheme", plainCfg(func(c *oidc.Config) {
			c.AllowInsecureScheme = false
			c.Issuer = issuer
		}), "allow_insecure_scheme"},
		{"plain HTTP on all interfaces", plainCfg(func(c *oidc.Config) { c.Address = "0.0.0.0:0" }), "loopback"},
		{"plain HTTP on an unspecified host", plainCfg(func(c *oidc.Config) { c.Address = ":0" }), "loopback"},
		{"plain HTTP on localhost by name", plainCfg(func(c *oidc.Config) { c.Address = "localhost:0" }), "loopback"},
		{"plain HTTP on a LAN address", plainCfg(func(c *oidc.Config) { c.Address = "10.0.0.1:0" }), "loopback"},
		{"no issuer", tlsCfg(func(c *oidc.Config) { c.Issuer = "" }), "issuer is required"},
		{"http issuer without allow_insecure_scheme", tlsCfg(func(c *oidc.Config) { c.Issuer = "http://oidc.test" }), "allow_insecure_scheme"},
		{"issuer of another scheme", tlsCfg(func(c *oidc.Config) { c.Issuer = "spiffe://oidc.test" }), "https"},
		{"issuer without host", tlsCfg(func(c *oidc.Config) { c.Issuer = "https:///path" }), "host"},
		{"issuer with query", tlsCfg(func(c *oidc.Config) { c.Issuer = "https://oidc.test/?a=b" }), "query"},
		{"http jwks_uri", tlsCfg(func(c *oidc.Config) { c.JWKSURI = "http://oidc.test/keys" }), "jwks_uri"},
		{"invalid domain", tlsCfg(func(c *oidc.Config) { c.Domains = []string{"bad domain"} }), "bad domain"},
		{"domain not in punycode", tlsCfg(func(c *oidc.Config) { c.Domains = []string{"öidc.test"} }), "punycode"},
		{"no key source", tlsCfg(func(c *oidc.Config) { c.Keys = nil }), "key source"},
		{"bad address", tlsCfg(func(c *oidc.Config) { c.Address = "127.0.0.1" }), "address"},
		{"port in use", tlsCfg(func(c *oidc.Config) { c.Address = busy.Addr().String() }), busy.Addr().String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := oidc.New(tc.cfg)
			if err == nil {
				defer s.Close()
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("New error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
