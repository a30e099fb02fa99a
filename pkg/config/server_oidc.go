package config

import (
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/hcl/hcl/ast"
	"golang.org/x/net/idna"

	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// Defaults of the oidc_discovery block. The port is the one SPIRE's
// oidc-discovery-provider listens on with serving_cert_file (":443"); the
// file sync interval is its file_sync_interval default.
const (
	DefaultOIDCAddress          = "0.0.0.0"
	DefaultOIDCPort             = 443
	DefaultOIDCFileSyncInterval = time.Minute
)

// Block names of the oidc_discovery settings in Server.Lines.
const (
	oidcBlock     = "oidc_discovery block"
	oidcCertBlock = "serving_cert_file block of oidc_discovery"
)

// OIDCDiscovery is the server's oidc_discovery block: SPIRE's
// oidc-discovery-provider settings, served by the server itself from its
// CA's JWT keys (no server_api or workload_api source, no extra process).
type OIDCDiscovery struct {
	// Address and Port are where the endpoint listens (default
	// DefaultOIDCAddress, DefaultOIDCPort).
	Address string
	Port    int
	// Domains are the host names the discovery document is served under;
	// empty means the issuer's host.
	Domains []string
	// JWTIssuer is the issuer of the discovery document as written in the
	// block; empty means the server block's jwt_issuer. Use
	// Server.EffectiveJWTIssuer.
	JWTIssuer string
	// JWKSURI overrides the jwks_uri derived from the issuer.
	JWKSURI string
	// SetKeyUse sets "use": "sig" on every key.
	SetKeyUse bool
	// AllowInsecureScheme permits plain HTTP (loopback addresses only)
	// and http issuer and JWKS URLs.
	AllowInsecureScheme bool
	// ServingCertFile is the TLS certificate; nil means plain HTTP.
	ServingCertFile *ServingCertFile
}

// EffectiveJWTIssuer returns the iss claim of JWT-SVIDs: the server
// block's jwt_issuer, else the oidc_discovery block's, so that tokens
// carry the issuer the discovery document announces.
func (s *Server) EffectiveJWTIssuer() string {
	if s.JWTIssuer == "" && s.OIDCDiscovery != nil {
		return s.OIDCDiscovery.JWTIssuer
	}
	return s.JWTIssuer
}

// oidcUnsupported are oidc-discovery-provider keys svidkit has no
// counterpart for.
var oidcUnsupported = setOf("listen_socket_path", "server_path_prefix", "log_requests", "health_checks", "experimental")

// oidcDiscovery decodes the oidc_discovery block of the server block.
func (d *decoder) oidcDiscovery(s *Server) hcldecode.Field {
	return func(it *ast.ObjectItem) {
		body, ok := d.Object(it)
		if !ok {
			return
		}
		o := &OIDCDiscovery{Address: DefaultOIDCAddress, Port: DefaultOIDCPort}
		s.OIDCDiscovery = o
		refuse := func(why string) hcldecode.Field {
			return func(it *ast.ObjectItem) {
				d.Errorf(it.Pos(), "oidc_discovery: %s: %s", hcldecode.KeyName(it.Keys[0]), why)
			}
		}
		fromCA := refuse("the server serves its own CA's JWT keys; remove this source")
		logs := refuse("the server block's log settings apply")
		d.Block(oidcBlock, body, map[string]hcldecode.Field{
			"address":               d.String(&o.Address),
			"port":                  d.Int(&o.Port),
			"domains":               d.StringList(&o.Domains),
			"jwt_issuer":            d.String(&o.JWTIssuer),
			"jwks_uri":              d.String(&o.JWKSURI),
			"set_key_use":           d.Bool(&o.SetKeyUse),
			"allow_insecure_scheme": d.Bool(&o.AllowInsecureScheme),
			"serving_cert_file":     d.oidcServingCertFile(o),
			"acme":                  refuse("ACME is not supported; use serving_cert_file"),
			"insecure_addr":         refuse("use address and port with allow_insecure_scheme = true (loopback only)"),
			"server_api":            fromCA,
			"workload_api":          fromCA,
			"file":                  fromCA,
			"log_level":             logs,
			"log_format":            logs,
			"log_path":              logs,
		}, oidcUnsupported)
	}
}

// oidcServingCertFile decodes oidc_discovery's serving_cert_file block,
// which refuses SPIRE provider's addr (the block's address and port say
// where to listen).
func (d *decoder) oidcServingCertFile(o *OIDCDiscovery) hcldecode.Field {
	return func(it *ast.ObjectItem) {
		o.ServingCertFile, _ = d.servingCertFile(it, oidcCertBlock, "oidc_discovery: ", DefaultOIDCFileSyncInterval, map[string]hcldecode.Field{
			"addr": func(it *ast.ObjectItem) {
				d.Errorf(it.Pos(), "oidc_discovery: serving_cert_file: addr: set address and port in the oidc_discovery block")
			},
		})
	}
}

// validateOIDC checks the oidc_discovery block: a way to serve (TLS, or
// plain HTTP on loopback with allow_insecure_scheme), an issuer that JWT-
// SVIDs carry too, URLs and host names relying parties accept.
func (s *Server) validateOIDC(p *hcldecode.Problems) {
	o := s.OIDCDiscovery
	if o == nil {
		return
	}
	line := func(key string) int {
		if l := s.Lines.Line(oidcBlock, key); l != 0 {
			return l
		}
		return s.Lines.Line(ServerBlock, "oidc_discovery")
	}
	if err := checkPort(o.Port); err != nil {
		p.At(line("port"), "oidc_discovery: port: %v", err)
	}
	// A serving_cert_file's paths are checked when it is decoded.
	if o.ServingCertFile == nil && !o.AllowInsecureScheme {
		p.At(line("oidc_discovery"), "oidc_discovery: set serving_cert_file { cert_file_path key_file_path } to serve HTTPS, or allow_insecure_scheme = true to serve plain HTTP on a loopback address")
	} else if ip, err := netip.ParseAddr(o.Address); o.ServingCertFile == nil && (err != nil || !ip.IsLoopback()) {
		p.At(line("address"), "oidc_discovery: address %q: plain HTTP (allow_insecure_scheme, no serving_cert_file) is served only on a loopback IP such as 127.0.0.1 or ::1", o.Address)
	}

	issuer := s.EffectiveJWTIssuer()
	switch {
	case issuer == "":
		p.At(line("oidc_discovery"), "oidc_discovery: missing jwt_issuer (in this block or the server block): JWT-SVIDs must carry the issuer the discovery document announces, or relying parties refuse them")
	case o.JWTIssuer != "" && s.JWTIssuer != "" && o.JWTIssuer != s.JWTIssuer:
		p.At(line("jwt_issuer"), "oidc_discovery: jwt_issuer %q differs from the server block's jwt_issuer %q: JWT-SVIDs carry the server's, so relying parties would refuse them", o.JWTIssuer, s.JWTIssuer)
	default:
		issuerKey := "jwt_issuer"
		if o.JWTIssuer == "" {
			issuerKey = "server block's jwt_issuer"
		}
		if msg := checkOIDCURL(issuer, o.AllowInsecureScheme); msg != "" {
			l := line("jwt_issuer")
			if o.JWTIssuer == "" {
				l = s.Lines.Line(ServerBlock, "jwt_issuer")
			}
			p.At(l, "oidc_discovery: %s %q: %s", issuerKey, issuer, msg)
		}
	}
	if o.JWKSURI != "" {
		if msg := checkOIDCURL(o.JWKSURI, o.AllowInsecureScheme); msg != "" {
			p.At(line("jwks_uri"), "oidc_discovery: jwks_uri %q: %s", o.JWKSURI, msg)
		}
	}
	for _, dom := range o.Domains {
		lower := strings.ToLower(dom)
		if ascii, err := idna.Lookup.ToASCII(lower); dom == "" || err != nil {
			p.At(line("domains"), "oidc_discovery: domains: %q is not a valid host name", dom)
		} else if ascii != lower {
			p.At(line("domains"), "oidc_discovery: domains: %q must be given in punycode (%q)", dom, ascii)
		}
	}
}

// checkOIDCURL returns why u cannot be an issuer or JWKS URL, or "".
func checkOIDCURL(u string, allowHTTP bool) string {
	parsed, err := url.Parse(u)
	switch {
	case err != nil:
		return "not a URL"
	case parsed.Scheme == "http" && !allowHTTP:
		return "an http URL needs allow_insecure_scheme = true"
	case parsed.Scheme != "https" && parsed.Scheme != "http":
		return "want an https URL"
	case parsed.Host == "":
		return "missing host"
	case parsed.RawQuery != "" || parsed.Fragment != "" || parsed.User != nil:
		return "must not carry a query, fragment or user"
	}
	return ""
}
