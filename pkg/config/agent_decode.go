package config

import (
	"github.com/hashicorp/hcl/hcl/ast"
)

// agentUnsupported lists agent block keys SPIRE has that svidkit does not.
var agentUnsupported = setOf("retry_bootstrap", "workload_x509_svid_key_type",
	"authorized_delegates", "experimental", "allowed_foreign_jwt_claims",
	"allow_unauthenticated_verifiers", "availability_target", "x509_svid_cache_max_size",
	"jwt_svid_cache_max_size", "log_file", "log_source_location", "profiling_enabled",
	"profiling_port", "profiling_freq", "profiling_names", "rebootstrap_mode", "rebootstrap_delay",
	"require_pq_kem", "trust_bundle_unix_socket", "sync_interval", "use_sync_authorized_entries")

// DecodeAgent decodes an agent configuration without the final Validate,
// so a CLI can apply flag overrides first. Syntax errors, unknown keys,
// unsupported plugins and malformed values are reported with file:line.
func DecodeAgent(name string, data []byte) (*Agent, []string, error) {
	top, err := parseHCL(name, data)
	if err != nil {
		return nil, nil, err
	}
	d := &decoder{file: name}
	a := NewAgent()
	a.Source = name
	d.block("top level", top, map[string]field{
		"agent": func(it *ast.ObjectItem) {
			if body, ok := d.object(it); ok {
				d.agentBlock(a, body)
			}
		},
		"plugins": func(it *ast.ObjectItem) {
			if body, ok := d.object(it); ok {
				d.agentPlugins(a, it, body)
			}
		},
		"health_checks": d.healthBlock(&a.Health),
		"telemetry":     d.telemetryBlock(&a.Telemetry),
	}, topUnsupported)
	if err := d.err(); err != nil {
		return nil, d.warnings, err
	}
	return a, d.warnings, nil
}

func (d *decoder) agentBlock(a *Agent, body *ast.ObjectList) {
	d.block("agent block", body, map[string]field{
		"data_dir":            d.str(&a.DataDir),
		"log_level":           d.str(&a.LogLevel),
		"log_format":          d.str(&a.LogFormat),
		"server_address":      d.str(&a.ServerAddress),
		"server_port":         d.integer(&a.ServerPort),
		"socket_path":         d.str(&a.SocketPath),
		"admin_socket_path":   d.str(&a.AdminSocketPath),
		"trust_domain":        d.trustDomain(&a.TrustDomain),
		"trust_bundle_path":   d.str(&a.TrustBundlePath),
		"trust_bundle_url":    d.str(&a.TrustBundleURL),
		"trust_bundle_format": d.str(&a.TrustBundleFormat),
		"insecure_bootstrap": func(it *ast.ObjectItem) {
			d.boolean(&a.InsecureBootstrap)(it)
			if a.InsecureBootstrap {
				d.warnf(it.Pos(), "insecure_bootstrap = true: the agent trusts the first server it reaches; use only for testing")
			}
		},
		"join_token": d.str(&a.JoinToken),
		"sds":        d.sdsBlock(&a.SDS),
	}, agentUnsupported)
}

// sdsBlock decodes SPIRE's agent { sds { ... } } block.
func (d *decoder) sdsBlock(s *SDS) field {
	return func(it *ast.ObjectItem) {
		body, ok := d.object(it)
		if !ok {
			return
		}
		d.block("sds block", body, map[string]field{
			"default_svid_name":              d.str(&s.DefaultSVIDName),
			"default_bundle_name":            d.str(&s.DefaultBundleName),
			"default_all_bundles_name":       d.str(&s.DefaultAllBundlesName),
			"disable_spiffe_cert_validation": d.boolean(&s.DisableSPIFFECertValidation),
		}, nil)
	}
}

func (d *decoder) agentPlugins(a *Agent, blk *ast.ObjectItem, body *ast.ObjectList) {
	kinds := map[string]pluginKind{
		"NodeAttestor": {spire: spireNodeAttestors, supported: map[string]func(*decoder, plugin){
			"join_token": func(d *decoder, p plugin) {
				a.NodeAttestor = "join_token"
				d.pluginData(p, nil)
			},
		}},
		"KeyManager": {spire: spireAgentKeyManagers, supported: map[string]func(*decoder, plugin){
			"disk": func(d *decoder, p plugin) {
				a.KeyManager = KeyManager{Name: "disk"}
				d.pluginData(p, map[string]field{"directory": d.str(&a.KeyManager.Path)})
				if a.KeyManager.Path == "" {
					d.errorf(p.pos, "KeyManager \"disk\": missing required key \"directory\" in plugin_data")
				}
			},
			"memory": func(d *decoder, p plugin) {
				a.KeyManager = KeyManager{Name: "memory"}
				d.pluginData(p, nil)
			},
		}},
		"WorkloadAttestor": {spire: spireWorkloadAttestors, supported: map[string]func(*decoder, plugin){
			"unix": func(d *decoder, p plugin) {
				// svidkit discovers the workload path by default (SPIRE does not):
				// unix:path and unix:sha256 cost little with the hash cache.
				a.Unix = &UnixAttestor{DiscoverWorkloadPath: true}
				d.pluginData(p, map[string]field{
					"discover_workload_path": d.boolean(&a.Unix.DiscoverWorkloadPath),
				})
			},
		}},
		"SVIDStore": {spire: spireSVIDStores},
	}
	ps := d.plugins(body, kinds)
	for _, typ := range []string{"NodeAttestor", "KeyManager"} {
		if n := countPlugins(ps, typ); n > 1 {
			d.errorf(blk.Pos(), "plugins block: want exactly one %s, got %d", typ, n)
		}
	}
	if countPlugins(ps, "WorkloadAttestor") == 0 {
		d.warnf(blk.Pos(), "no WorkloadAttestor configured: workloads get no selectors and match no entries")
	}
}
