package k8s_test

import (
	"errors"
	"fmt"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"
)

// The name checks read the SPIRE keys they compare straight from the HCL,
// with SPIRE's defaults, rather than from pkg/config's runtime structs:
// they then test the files as SPIRE would read them, and do not depend on
// how pkg/config names its fields. TestEmbeddedConfigsParse checks that
// pkg/config loads the same files.

// SPIRE's defaults for the keys the checks compare.
const (
	defaultPSATAudience   = "spire-server"
	defaultAgentTokenPath = "/var/run/secrets/tokens/spire-agent"
	defaultBundleNS       = "spire"
	defaultBundleCM       = "spire-bundle"
	defaultBundleKey      = "bundle.crt"
	defaultServerPort     = 8081
)

// healthChecks is the health_checks block of server.conf and agent.conf.
type healthChecks struct {
	ListenerEnabled bool   `hcl:"listener_enabled"`
	BindPort        int    `hcl:"bind_port"`
	LivePath        string `hcl:"live_path"`
	ReadyPath       string `hcl:"ready_path"`
}

// serverConf holds what the checks compare in server.conf.
type serverConf struct {
	Server struct {
		BindPort    int    `hcl:"bind_port"`
		SocketPath  string `hcl:"socket_path"`
		TrustDomain string `hcl:"trust_domain"`
		DataDir     string `hcl:"data_dir"`
	}
	SQL struct {
		DatabaseType     string `hcl:"database_type"`
		ConnectionString string `hcl:"connection_string"`
	}
	KeysPath string
	// Clusters is k8s_psat's clusters map with audience defaulted.
	Clusters map[string]*psatCluster
	Bundle   struct {
		Namespace    string `hcl:"namespace"`
		ConfigMap    string `hcl:"config_map"`
		ConfigMapKey string `hcl:"config_map_key"`
	}
	Health healthChecks
	// Registrar is the registrar block (registration_test.go).
	Registrar registrarConf
}

// psatCluster is one cluster of the server's k8s_psat plugin_data.
type psatCluster struct {
	ServiceAccountAllowList []string `hcl:"service_account_allow_list"`
	Audience                []string `hcl:"audience"`
}

// agentConf holds what the checks compare in agent.conf.
type agentConf struct {
	Agent struct {
		DataDir         string `hcl:"data_dir"`
		ServerAddress   string `hcl:"server_address"`
		ServerPort      int    `hcl:"server_port"`
		SocketPath      string `hcl:"socket_path"`
		TrustBundlePath string `hcl:"trust_bundle_path"`
		TrustDomain     string `hcl:"trust_domain"`
	}
	PSAT struct {
		Cluster   string `hcl:"cluster"`
		TokenPath string `hcl:"token_path"`
	}
	K8s struct {
		NodeNameEnv string `hcl:"node_name_env"`
	}
	Health healthChecks
}

// hclBlock returns the value of the block reached by keys, each step
// matching an item's leading keys (so "plugins", "NodeAttestor",
// "k8s_psat" finds `NodeAttestor "k8s_psat" { ... }` in the plugins block).
func hclBlock(list *ast.ObjectList, steps ...[]string) (ast.Node, bool) {
	var node ast.Node = list
	for _, keys := range steps {
		l, ok := node.(*ast.ObjectList)
		if !ok {
			obj, isObj := node.(*ast.ObjectType)
			if !isObj {
				return nil, false
			}
			l = obj.List
		}
		items := l.Filter(keys...).Items
		if len(items) != 1 {
			return nil, false
		}
		node = items[0].Val
	}
	return node, true
}

// decodeBlock decodes the block at steps into dst, if present.
func decodeBlock(list *ast.ObjectList, dst any, steps ...[]string) error {
	node, ok := hclBlock(list, steps...)
	if !ok {
		return nil
	}
	if err := hcl.DecodeObject(dst, node); err != nil {
		return fmt.Errorf("%v: %w", steps, err)
	}
	return nil
}

func parseHCL(data string) (*ast.ObjectList, error) {
	f, err := hcl.ParseString(data)
	if err != nil {
		return nil, err
	}
	list, ok := f.Node.(*ast.ObjectList)
	if !ok {
		return nil, errors.New("not an HCL object list")
	}
	return list, nil
}

func k(keys ...string) []string { return keys }

// readServerConf reads server.conf's compared keys, defaults applied.
func readServerConf(data string) (*serverConf, error) {
	list, err := parseHCL(data)
	if err != nil {
		return nil, err
	}
	c := &serverConf{}
	c.Server.BindPort = defaultServerPort
	c.Bundle.Namespace, c.Bundle.ConfigMap, c.Bundle.ConfigMapKey = defaultBundleNS, defaultBundleCM, defaultBundleKey
	var psat struct {
		Clusters map[string]psatCluster `hcl:"clusters"`
	}
	var disk struct {
		KeysPath string `hcl:"keys_path"`
	}
	plugin := func(typ, name string) []string { return k(typ, name) }
	err = errors.Join(
		decodeBlock(list, &c.Server, k("server")),
		decodeBlock(list, &c.SQL, k("plugins"), plugin("DataStore", "sql"), k("plugin_data")),
		decodeBlock(list, &disk, k("plugins"), plugin("KeyManager", "disk"), k("plugin_data")),
		decodeBlock(list, &psat, k("plugins"), plugin("NodeAttestor", "k8s_psat"), k("plugin_data")),
		decodeBlock(list, &c.Bundle, k("plugins"), plugin("Notifier", "k8sbundle"), k("plugin_data")),
		decodeBlock(list, &c.Health, k("health_checks")),
		decodeBlock(list, &c.Registrar, k("registrar")),
	)
	if err != nil {
		return nil, err
	}
	c.KeysPath = disk.KeysPath
	c.Clusters = map[string]*psatCluster{}
	for name, cl := range psat.Clusters {
		if len(cl.Audience) == 0 {
			cl.Audience = []string{defaultPSATAudience}
		}
		c.Clusters[name] = &cl
	}
	return c, nil
}

// readAgentConf reads agent.conf's compared keys, defaults applied.
func readAgentConf(data string) (*agentConf, error) {
	list, err := parseHCL(data)
	if err != nil {
		return nil, err
	}
	c := &agentConf{}
	c.Agent.ServerPort = defaultServerPort
	err = errors.Join(
		decodeBlock(list, &c.Agent, k("agent")),
		decodeBlock(list, &c.PSAT, k("plugins"), k("NodeAttestor", "k8s_psat"), k("plugin_data")),
		decodeBlock(list, &c.K8s, k("plugins"), k("WorkloadAttestor", "k8s"), k("plugin_data")),
		decodeBlock(list, &c.Health, k("health_checks")),
	)
	if err != nil {
		return nil, err
	}
	if c.PSAT.TokenPath == "" {
		c.PSAT.TokenPath = defaultAgentTokenPath
	}
	return c, nil
}
