package config

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// Server is the svidkit server's runtime configuration with defaults
// resolved. The CLI may overwrite fields from flags and then call Validate.
type Server struct {
	// Source is the file the configuration came from (for messages).
	Source string
	// Lines holds the line of each key DecodeServer read, so that Validate
	// can name it (block ServerBlock for the server block's keys); the
	// zero value, for a configuration built in code, has none. A command
	// line that overrides a key forgets its line.
	Lines hcldecode.Lines

	BindAddress string // default 0.0.0.0
	BindPort    int    // default 8081
	// SocketPath is the admin API Unix socket
	// (default /tmp/spire-server/private/api.sock).
	SocketPath string
	// SocketDirShared (socket_dir_shared, an svidkit extension) accepts a
	// socket directory other users own or may write, with a warning.
	SocketDirShared bool
	TrustDomain     spiffeid.TrustDomain
	DataDir         string
	LogLevel        string // DEBUG, INFO, WARN or ERROR; default INFO
	LogFormat       string // text or json; default text

	CATTL              time.Duration // default 24h
	DefaultX509SVIDTTL time.Duration // default 1h
	DefaultJWTSVIDTTL  time.Duration // default 5m
	// AgentTTL is the agent SVID lifetime; 0 means the server decides
	// (SPIRE uses the CA TTL's default X.509 SVID TTL).
	AgentTTL time.Duration

	// CAKeyType is the X.509 CA key type: ec-p256 (default), ec-p384,
	// rsa-2048 or rsa-4096. JWTKeyType is the JWT signing key type and
	// defaults to CAKeyType, as in SPIRE.
	CAKeyType  string
	JWTKeyType string
	CASubject  Subject
	// JWTIssuer is the iss claim of JWT-SVIDs; empty means none.
	JWTIssuer string

	DataStore  DataStore
	KeyManager KeyManager
	// NodeAttestors are the enabled node attestor names ("join_token",
	// "k8s_psat"), in file order.
	NodeAttestors []string
	// K8sPSAT is the k8s_psat node attestor's settings; nil when it is
	// not configured.
	K8sPSAT *K8sPSATNodeAttestor
	// K8sBundle is the k8sbundle notifier's settings; nil when it is not
	// configured.
	K8sBundle *K8sBundle
	// OIDCDiscovery is the oidc_discovery block (server_oidc.go); nil
	// when the OIDC discovery endpoint is off.
	OIDCDiscovery *OIDCDiscovery

	// RateLimitAttestation limits AttestAgent to one per second per client
	// IP (SPIRE's ratelimit { attestation }, default true).
	RateLimitAttestation bool

	// Federation is the federation block (bundle endpoint and static
	// relationships); nil when the file has none.
	Federation *Federation

	// Registrar is the top-level registrar block (server_registrar.go);
	// nil when the Kubernetes registrar is off.
	Registrar *Registrar

	Health Health
	// Telemetry says where Prometheus metrics are served.
	Telemetry Telemetry
	// Profiling is the profiling_* keys of the server block
	// (profiling.go).
	Profiling Profiling
}

// Subject is the CA certificate subject (the ca_subject block).
type Subject struct {
	Country      []string
	Organization []string
	CommonName   string
}

// Database types of the "sql" DataStore.
const (
	DatabaseSQLite   = "sqlite3"
	DatabasePostgres = "postgres"
)

// DataStore is the "sql" DataStore plugin's settings.
type DataStore struct {
	// DatabaseType is DatabaseSQLite or DatabasePostgres.
	DatabaseType string
	// ConnectionString is, for SQLite, the database path, made absolute
	// against the process working directory at load time, as SPIRE
	// resolves it; for PostgreSQL, a libpq connection string in either
	// form (keyword/value or postgresql:// URL), TLS settings included.
	ConnectionString string
	// ROConnectionString (ro_connection_string) is accepted for SPIRE
	// compatibility and not used: every server keeps its entries in
	// memory and re-reads them when the revision on the primary changes,
	// so reads from a lagging replica would only delay changes; the
	// server logs a warning when it is set.
	ROConnectionString string
	// MaxOpenConns (max_open_conns) bounds the PostgreSQL pool; 0 keeps
	// the driver's default.
	MaxOpenConns int
	// MaxIdleConns (max_idle_conns) is accepted for SPIRE compatibility
	// and not used: pgxpool keeps up to MaxOpenConns connections and
	// closes those idle for 30 minutes.
	MaxIdleConns int
	// ConnMaxLifetime (conn_max_lifetime) closes PostgreSQL connections
	// older than this; 0 keeps the driver's default (one hour).
	ConnMaxLifetime time.Duration
	// DisableMigration (disable_migration) makes the server refuse to
	// start on an out-of-date schema instead of migrating it; an operator
	// then runs `svidkit-server migrate`.
	DisableMigration bool
}

// Key types accepted by ca_key_type and jwt_key_type.
var keyTypes = []string{"ec-p256", "ec-p384", "rsa-2048", "rsa-4096"}

// NewServer returns a Server holding SPIRE's defaults.
func NewServer() *Server {
	return &Server{
		BindAddress:        "0.0.0.0",
		BindPort:           8081,
		SocketPath:         "/tmp/spire-server/private/api.sock",
		LogLevel:           "INFO",
		LogFormat:          LogFormatText,
		CATTL:              24 * time.Hour,
		DefaultX509SVIDTTL: time.Hour,
		DefaultJWTSVIDTTL:  5 * time.Minute,
		CAKeyType:          "ec-p256",
		Health:             defaultHealth(),
		// SPIRE's default: ratelimit { attestation = true }.
		RateLimitAttestation: true,
	}
}

// Validate reports every setting that cannot work: missing required keys,
// bad levels, ports and key types, lifetimes not shorter than the CA's. It
// names the key (and the flag that can set it), one problem per line with
// the file's line when the file set the key, and is meant to run after
// flag overrides are applied.
func (s *Server) Validate() error {
	p := hcldecode.Problems{File: s.Source}
	line := func(key string) int { return s.Lines.Line(ServerBlock, key) }
	if s.TrustDomain.IsZero() {
		p.At(0, "missing required key \"trust_domain\" in server block (or -trustDomain)")
	}
	if s.DataDir == "" {
		p.At(0, "missing required key \"data_dir\" in server block (or -dataDir)")
	}
	if s.SocketPath == "" {
		p.At(line("socket_path"), "socket_path must not be empty")
	}
	if err := checkPort(s.BindPort); err != nil {
		p.At(line("bind_port"), "bind_port: %v", err)
	}
	if err := checkPort(s.Health.BindPort); err != nil {
		p.At(s.Lines.Line(healthBlock, "bind_port"), "health_checks bind_port: %v", err)
	}
	if _, err := ParseLogLevel(s.LogLevel); err != nil {
		p.At(line("log_level"), "log_level: %v", err)
	}
	if err := checkLogFormat(s.LogFormat); err != nil {
		p.At(line("log_format"), "log_format: %v", err)
	}
	if !containsFold(keyTypes, s.CAKeyType) {
		p.At(line("ca_key_type"), "ca_key_type: unknown key type %q (want one of %s)", s.CAKeyType, strings.Join(keyTypes, ", "))
	}
	if s.JWTKeyType != "" && !containsFold(keyTypes, s.JWTKeyType) {
		p.At(line("jwt_key_type"), "jwt_key_type: unknown key type %q (want one of %s)", s.JWTKeyType, strings.Join(keyTypes, ", "))
	}
	s.validateTTLs(&p)
	s.validateOIDC(&p)
	s.validateFederation(&p)
	if s.DataStore.DatabaseType == "" {
		p.At(0, "missing DataStore \"sql\" plugin in plugins block")
	}
	if s.KeyManager.Name == "" {
		p.At(0, "missing KeyManager plugin (\"disk\" or \"memory\") in plugins block")
	}
	return p.Err()
}

// validateTTLs checks that every lifetime the CA signs is shorter than the
// CA's own: a longer one would be cut at the CA's expiry. A problem is put
// on the line of the lifetime, or of ca_ttl when only that was set.
func (s *Server) validateTTLs(p *hcldecode.Problems) {
	if s.CATTL <= 0 {
		return
	}
	for _, t := range []struct {
		key  string
		keys []string // spellings in the file, the deprecated one last
		ttl  time.Duration
	}{
		{"default_x509_svid_ttl", []string{"default_x509_svid_ttl", "default_svid_ttl"}, s.DefaultX509SVIDTTL},
		{"default_jwt_svid_ttl", []string{"default_jwt_svid_ttl"}, s.DefaultJWTSVIDTTL},
		{"agent_ttl", []string{"agent_ttl"}, s.AgentTTL},
	} {
		if t.ttl >= s.CATTL {
			p.At(s.Lines.First(ServerBlock, append(t.keys, "ca_ttl")...), "%s (%s) must be shorter than ca_ttl (%s)", t.key, t.ttl, s.CATTL)
		}
	}
}

// EffectiveJWTKeyType returns JWTKeyType, or CAKeyType when it is unset.
func (s *Server) EffectiveJWTKeyType() string {
	if s.JWTKeyType != "" {
		return s.JWTKeyType
	}
	return s.CAKeyType
}

// LoadServer reads, decodes and validates the server configuration at path.
// Warnings name deprecated keys and their replacements.
func LoadServer(path string) (*Server, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read server config: %w", err)
	}
	return ParseServer(path, data)
}

// ParseServer decodes and validates a server configuration; name is used in
// messages as the file name.
func ParseServer(name string, data []byte) (*Server, []string, error) {
	s, warnings, err := DecodeServer(name, data)
	if err != nil {
		return nil, warnings, err
	}
	if err := s.Validate(); err != nil {
		return nil, warnings, err
	}
	return s, warnings, nil
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
