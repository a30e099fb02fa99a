package config

import (
	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// agentUnsupported lists agent block keys SPIRE has that svidkit does not.
var agentUnsupported = setOf("retry_bootstrap", "workload_x509_svid_key_type",
	"authorized_delegates", "experimental", "allowed_foreign_jwt_claims",
	"allow_unauthenticated_verifiers", "availability_target",
	"log_file", "log_source_location", "rebootstrap_mode", "rebootstrap_delay",
	"require_pq_kem", "trust_bundle_unix_socket", "sync_interval", "use_sync_authorized_entries")

// DecodeAgent decodes an agent configuration without the final Validate,
// so a CLI can apply flag overrides first. Syntax errors, unknown keys,
// unsupported plugins and malformed values are reported with file:line.
func DecodeAgent(name string, data []byte) (*Agent, []string, error) {
	top, err := hcldecode.Parse(name, data)
	if err != nil {
		return nil, nil, err
	}
	d := &decoder{Decoder: hcldecode.Decoder{File: name}}
	a := NewAgent()
	a.Source = name
	d.Block("top level", top, map[string]hcldecode.Field{
		"agent": func(it *ast.ObjectItem) {
			if body, ok := d.Object(it); ok {
				d.agentBlock(a, body)
			}
		},
		"plugins": func(it *ast.ObjectItem) {
			if body, ok := d.Object(it); ok {
				d.agentPlugins(a, it, body)
			}
		},
		"health_checks": d.healthBlock(&a.Health),
		"telemetry":     d.telemetryBlock(&a.Telemetry),
	}, topUnsupported)
	if err := d.Err(); err != nil {
		return nil, d.Warnings(), err
	}
	a.Lines = d.Lines()
	return a, d.Warnings(), nil
}

func (d *decoder) agentBlock(a *Agent, body *ast.ObjectList) {
	d.Block(AgentBlock, body, d.withProfiling(&a.Profiling, map[string]hcldecode.Field{
		"data_dir":            d.String(&a.DataDir),
		"log_level":           d.String(&a.LogLevel),
		"log_format":          d.String(&a.LogFormat),
		"server_address":      d.String(&a.ServerAddress),
		"server_port":         d.Int(&a.ServerPort),
		"socket_path":         d.String(&a.SocketPath),
		"socket_dir_shared":   d.Bool(&a.SocketDirShared),
		"admin_socket_path":   d.String(&a.AdminSocketPath),
		"trust_domain":        d.trustDomain(&a.TrustDomain),
		"trust_bundle_path":   d.String(&a.TrustBundlePath),
		"trust_bundle_url":    d.String(&a.TrustBundleURL),
		"trust_bundle_format": d.String(&a.TrustBundleFormat),
		"insecure_bootstrap": func(it *ast.ObjectItem) {
			d.Bool(&a.InsecureBootstrap)(it)
			if a.InsecureBootstrap {
				d.Warnf(it.Pos(), "insecure_bootstrap = true: the agent trusts the first server it reaches; use only for testing")
			}
		},
		"join_token": d.String(&a.JoinToken),
		"sds":        d.sdsBlock(&a.SDS),
		"jwt_svid_cache_max_size": func(it *ast.ObjectItem) {
			d.Int(&a.JWTSVIDCacheMaxSize)(it)
			if a.JWTSVIDCacheMaxSize < 0 {
				d.Errorf(it.Pos(), "jwt_svid_cache_max_size: want a positive number, or 0 for the default, got %d", a.JWTSVIDCacheMaxSize)
			}
		},
		"x509_svid_cache_max_size": func(it *ast.ObjectItem) {
			d.Int(&a.X509SVIDCacheMaxSize)(it)
			if a.X509SVIDCacheMaxSize < 0 {
				d.Errorf(it.Pos(), "x509_svid_cache_max_size: want a positive number, or 0 for the default, got %d", a.X509SVIDCacheMaxSize)
			}
		},
	}), agentUnsupported)
	d.checkProfiling(AgentBlock, &a.Profiling)
}

// sdsBlock decodes SPIRE's agent { sds { ... } } block.
func (d *decoder) sdsBlock(s *SDS) hcldecode.Field {
	return func(it *ast.ObjectItem) {
		body, ok := d.Object(it)
		if !ok {
			return
		}
		d.Block("sds block", body, map[string]hcldecode.Field{
			"default_svid_name":              d.String(&s.DefaultSVIDName),
			"default_bundle_name":            d.String(&s.DefaultBundleName),
			"default_all_bundles_name":       d.String(&s.DefaultAllBundlesName),
			"disable_spiffe_cert_validation": d.Bool(&s.DisableSPIFFECertValidation),
		}, nil)
	}
}

func (d *decoder) agentPlugins(a *Agent, blk *ast.ObjectItem, body *ast.ObjectList) {
	kinds := map[string]pluginKind{
		"NodeAttestor": {spire: spireNodeAttestors, supported: map[string]func(*decoder, plugin){
			NodeAttestorJoinToken: func(d *decoder, p plugin) {
				a.NodeAttestor = NodeAttestorJoinToken
				d.pluginData(p, nil)
			},
			NodeAttestorK8sPSAT: func(d *decoder, p plugin) {
				a.NodeAttestor = NodeAttestorK8sPSAT
				a.K8sPSAT = &K8sPSATAttestor{TokenPath: DefaultPSATTokenPath}
				d.pluginData(p, map[string]hcldecode.Field{
					"cluster":    d.String(&a.K8sPSAT.Cluster),
					"token_path": d.String(&a.K8sPSAT.TokenPath),
				})
				if a.K8sPSAT.Cluster == "" {
					d.Errorf(p.pos, "NodeAttestor \"k8s_psat\": missing required key \"cluster\" in plugin_data")
				}
				if a.K8sPSAT.TokenPath == "" {
					d.Errorf(p.pos, "NodeAttestor \"k8s_psat\": token_path must not be empty")
				}
			},
		}},
		"KeyManager": {spire: spireAgentKeyManagers, supported: map[string]func(*decoder, plugin){
			"disk": func(d *decoder, p plugin) {
				a.KeyManager = KeyManager{Name: "disk"}
				d.pluginData(p, map[string]hcldecode.Field{"directory": d.String(&a.KeyManager.Path)})
				if a.KeyManager.Path == "" {
					d.Errorf(p.pos, "KeyManager \"disk\": missing required key \"directory\" in plugin_data")
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
				d.pluginData(p, map[string]hcldecode.Field{
					"discover_workload_path": d.Bool(&a.Unix.DiscoverWorkloadPath),
				})
			},
			"k8s": func(d *decoder, p plugin) { d.k8sWorkloadAttestor(a, p) },
		}},
		"SVIDStore": {spire: spireSVIDStores},
	}
	ps := d.plugins(body, kinds)
	for _, typ := range []string{"NodeAttestor", "KeyManager"} {
		if n := countPlugins(ps, typ); n > 1 {
			d.Errorf(blk.Pos(), "plugins block: want exactly one %s, got %d", typ, n)
		}
	}
	if countPlugins(ps, "WorkloadAttestor") == 0 {
		d.Warnf(blk.Pos(), "no WorkloadAttestor configured: workloads get no selectors and match no entries")
	}
}
