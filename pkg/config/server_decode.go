package config

import (
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// serverUnsupported lists server block keys SPIRE has that svidkit does not.
var serverUnsupported = setOf("admin_ids", "audit_log_enabled", "cache_reload_interval",
	"prune_events_older_than", "event_timeout", "experimental", "log_file",
	"log_source_location",
	"use_legacy_downstream_x509_ca_ttl", "exclude_sn_from_ca_subject",
	"omit_x509svid_uid", "allow_unsafe_ids", "ca_key_manager_key_type")

// topUnsupported lists top-level blocks SPIRE has that svidkit does not.
var topUnsupported = setOf()

// DecodeServer decodes a server configuration without the final Validate,
// so a CLI can apply flag overrides first. Syntax errors, unknown keys,
// unsupported plugins and malformed values are reported with file:line.
func DecodeServer(name string, data []byte) (*Server, []string, error) {
	top, err := hcldecode.Parse(name, data)
	if err != nil {
		return nil, nil, err
	}
	d := &decoder{Decoder: hcldecode.Decoder{File: name}}
	s := NewServer()
	s.Source = name
	d.Block("top level", top, map[string]hcldecode.Field{
		"server": func(it *ast.ObjectItem) {
			if body, ok := d.Object(it); ok {
				d.serverBlock(s, body)
			}
		},
		"plugins": func(it *ast.ObjectItem) {
			if body, ok := d.Object(it); ok {
				d.serverPlugins(s, it, body)
			}
		},
		"registrar":     d.registrar(s),
		"health_checks": d.healthBlock(&s.Health),
		"telemetry":     d.telemetryBlock(&s.Telemetry),
	}, topUnsupported)
	if err := d.Err(); err != nil {
		return nil, d.Warnings(), err
	}
	s.Lines = d.Lines()
	return s, d.Warnings(), nil
}

func (d *decoder) serverBlock(s *Server, body *ast.ObjectList) {
	var (
		x509TTL, legacyTTL   = s.DefaultX509SVIDTTL, s.DefaultX509SVIDTTL
		x509Set, legacySet   bool
		socketSet, legacyUDS bool
		udsPath              string
	)
	d.Block(ServerBlock, body, d.withProfiling(&s.Profiling, map[string]hcldecode.Field{
		"bind_address": d.String(&s.BindAddress),
		"bind_port":    d.Int(&s.BindPort),
		"socket_path": func(it *ast.ObjectItem) {
			socketSet = true
			d.String(&s.SocketPath)(it)
		},
		"socket_dir_shared": d.Bool(&s.SocketDirShared),
		"registration_uds_path": func(it *ast.ObjectItem) {
			legacyUDS = true
			d.String(&udsPath)(it)
			d.Warnf(it.Pos(), "registration_uds_path is deprecated; use socket_path")
		},
		"trust_domain": d.trustDomain(&s.TrustDomain),
		"data_dir":     d.String(&s.DataDir),
		"log_level":    d.String(&s.LogLevel),
		"log_format":   d.String(&s.LogFormat),
		"ca_ttl":       d.Duration(&s.CATTL),
		"default_x509_svid_ttl": func(it *ast.ObjectItem) {
			x509Set = true
			d.Duration(&x509TTL)(it)
		},
		"default_svid_ttl": func(it *ast.ObjectItem) {
			legacySet = true
			d.Duration(&legacyTTL)(it)
			d.Warnf(it.Pos(), "default_svid_ttl is deprecated; use default_x509_svid_ttl")
		},
		"default_jwt_svid_ttl": d.Duration(&s.DefaultJWTSVIDTTL),
		"ca_key_type":          d.String(&s.CAKeyType),
		"jwt_key_type":         d.String(&s.JWTKeyType),
		"ca_subject": func(it *ast.ObjectItem) {
			if sub, ok := d.Object(it); ok {
				d.Block("ca_subject block", sub, map[string]hcldecode.Field{
					"country":      d.StringList(&s.CASubject.Country),
					"organization": d.StringList(&s.CASubject.Organization),
					"common_name":  d.String(&s.CASubject.CommonName),
				}, nil)
			}
		},
		"jwt_issuer": d.String(&s.JWTIssuer),
		"federation": d.federation(s),
		"agent_ttl":  d.Duration(&s.AgentTTL),
		"ratelimit": func(it *ast.ObjectItem) {
			if rl, ok := d.Object(it); ok {
				d.Block("ratelimit block", rl, map[string]hcldecode.Field{
					"attestation": d.Bool(&s.RateLimitAttestation),
					// svidkit signs at the agents' pace; SPIRE's signing
					// limit (500 per second per IP) is accepted, not applied.
					"signing": d.Bool(new(bool)),
				}, nil)
			}
		},
		// OIDC discovery endpoint (server_oidc.go).
		"oidc_discovery": d.oidcDiscovery(s),
	}), serverUnsupported)
	d.checkProfiling(ServerBlock, &s.Profiling)
	switch {
	case x509Set:
		s.DefaultX509SVIDTTL = x509TTL
	case legacySet:
		s.DefaultX509SVIDTTL = legacyTTL
	}
	if legacyUDS && !socketSet {
		s.SocketPath = udsPath
	}
}

// trustDomain decodes and checks a trust domain name.
func (d *decoder) trustDomain(dst *spiffeid.TrustDomain) hcldecode.Field {
	return func(it *ast.ObjectItem) {
		t, ok := d.Literal(it, "a trust domain name")
		if !ok {
			return
		}
		name, isStr := hcldecode.TokenString(t)
		if !isStr {
			d.Errorf(t.Pos, "trust_domain: want a string, got %s", t.Text)
			return
		}
		td, err := spiffeid.TrustDomainFromString(name)
		if err != nil {
			d.Errorf(it.Val.Pos(), "trust_domain: invalid trust domain %q: %v", name, err)
			return
		}
		*dst = td
	}
}

// healthBlock decodes a health_checks block.
func (d *decoder) healthBlock(h *Health) hcldecode.Field {
	return func(it *ast.ObjectItem) {
		body, ok := d.Object(it)
		if !ok {
			return
		}
		d.Block(healthBlock, body, map[string]hcldecode.Field{
			"listener_enabled": d.Bool(&h.ListenerEnabled),
			"bind_address":     d.String(&h.BindAddress),
			"bind_port":        d.Int(&h.BindPort),
			"live_path":        d.String(&h.LivePath),
			"ready_path":       d.String(&h.ReadyPath),
		}, nil)
	}
}

func (d *decoder) serverPlugins(s *Server, blk *ast.ObjectItem, body *ast.ObjectList) {
	kinds := map[string]pluginKind{
		"DataStore": {spire: spireDataStores, supported: map[string]func(*decoder, plugin){
			"sql": func(d *decoder, p plugin) { d.sqlDataStore(&s.DataStore, p) },
		}},
		"KeyManager": {spire: spireServerKeyManagers, supported: map[string]func(*decoder, plugin){
			"disk": func(d *decoder, p plugin) {
				s.KeyManager = KeyManager{Name: "disk"}
				d.pluginData(p, map[string]hcldecode.Field{"keys_path": d.String(&s.KeyManager.Path)})
				if s.KeyManager.Path == "" {
					d.Errorf(p.pos, "KeyManager \"disk\": missing required key \"keys_path\" in plugin_data")
				}
			},
			"memory": func(d *decoder, p plugin) {
				s.KeyManager = KeyManager{Name: "memory"}
				d.pluginData(p, nil)
			},
		}},
		"NodeAttestor": {spire: spireNodeAttestors, supported: map[string]func(*decoder, plugin){
			"join_token": func(d *decoder, p plugin) {
				s.NodeAttestors = append(s.NodeAttestors, "join_token")
				d.pluginData(p, nil)
			},
			"k8s_psat": func(d *decoder, p plugin) { d.k8sPSATNodeAttestor(s, p) },
		}},
		"UpstreamAuthority": {spire: spireUpstreamAuthority},
		"Notifier": {spire: spireNotifiers, supported: map[string]func(*decoder, plugin){
			"k8sbundle": func(d *decoder, p plugin) { d.k8sBundleNotifier(s, p) },
		}},
		"BundlePublisher":    {spire: spireBundlePublishers},
		"CredentialComposer": {spire: spireCredComposers},
	}
	ps := d.plugins(body, kinds)
	if n := countPlugins(ps, "DataStore"); n > 1 {
		d.Errorf(blk.Pos(), "plugins block: want exactly one DataStore, got %d", n)
	}
	if n := countPlugins(ps, "KeyManager"); n > 1 {
		d.Errorf(blk.Pos(), "plugins block: want exactly one KeyManager, got %d", n)
	}
}

// sqlDataStore decodes the "sql" DataStore's plugin_data.
func (d *decoder) sqlDataStore(ds *DataStore, p plugin) {
	var out DataStore
	typePos := p.pos
	d.pluginData(p, map[string]hcldecode.Field{
		"database_type": func(it *ast.ObjectItem) {
			typePos = it.Pos()
			if len(it.Keys) > 1 {
				// SPIRE's block form: database_type "aws_postgres" { ... }
				out.DatabaseType = hcldecode.KeyName(it.Keys[1])
				return
			}
			d.String(&out.DatabaseType)(it)
		},
		"connection_string":    d.String(&out.ConnectionString),
		"ro_connection_string": d.String(&out.ROConnectionString),
		"max_open_conns":       d.Int(&out.MaxOpenConns),
		"max_idle_conns":       d.Int(&out.MaxIdleConns),
		"conn_max_lifetime":    d.Duration(&out.ConnMaxLifetime),
		"disable_migration":    d.Bool(&out.DisableMigration),
	})
	switch out.DatabaseType {
	case DatabaseSQLite, DatabasePostgres:
	case "mysql", "aws_mysql", "aws_postgres":
		d.Errorf(typePos, "DataStore \"sql\": database_type %q is not supported (use \"postgres\" or \"sqlite3\")", out.DatabaseType)
		return
	case "":
		d.Errorf(typePos, "DataStore \"sql\": missing required key \"database_type\" in plugin_data")
		return
	default:
		d.Errorf(typePos, "DataStore \"sql\": unknown database_type %q (want \"sqlite3\" or \"postgres\")", out.DatabaseType)
		return
	}
	if out.ConnectionString == "" {
		d.Errorf(p.pos, "DataStore \"sql\": missing required key \"connection_string\" in plugin_data")
		return
	}
	if out.MaxOpenConns < 0 || out.MaxIdleConns < 0 {
		d.Errorf(p.pos, "DataStore \"sql\": max_open_conns and max_idle_conns must not be negative")
		return
	}
	if out.DatabaseType == DatabaseSQLite {
		resolved, err := resolveSQLitePath(out.ConnectionString)
		if err != nil {
			d.Errorf(p.pos, "DataStore \"sql\": connection_string: %v", err)
			return
		}
		out.ConnectionString = resolved
	}
	*ds = out
}

// resolveSQLitePath makes a relative SQLite path absolute against the
// working directory, keeping any "?query" suffix. URIs (file:...) and
// :memory: are left as they are.
func resolveSQLitePath(conn string) (string, error) {
	if strings.HasPrefix(conn, "file:") || conn == ":memory:" {
		return conn, nil
	}
	path, query, hasQuery := strings.Cut(conn, "?")
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if hasQuery {
		return abs + "?" + query, nil
	}
	return abs, nil
}

func setOf(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}
