package k8s_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/svidkit/svidkit/pkg/config"
)

// TestConfReadingAgreesWithConfig checks that the keys the name checks read
// from server.conf and agent.conf (SPIRE's keys, SPIRE's defaults) are the
// values pkg/config loads, so the checks compare what svidkit will use.
func TestConfReadingAgreesWithConfig(t *testing.T) {
	s := loadManifests(t)
	m := buildModel(t, s)

	name, content, err := daemonConfigFile(s, m.server)
	if err != nil {
		t.Fatal(err)
	}
	srv, _, err := config.ParseServer(name, []byte(content))
	if err != nil {
		t.Fatal(err)
	}
	name, content, err = daemonConfigFile(s, m.agent)
	if err != nil {
		t.Fatal(err)
	}
	agt, _, err := config.ParseAgent(name, []byte(content))
	if err != nil {
		t.Fatal(err)
	}
	if srv.K8sPSAT == nil || srv.K8sBundle == nil || agt.K8sPSAT == nil || agt.K8s == nil {
		t.Fatal("server.conf and agent.conf must configure k8s_psat, k8sbundle and the k8s workload attestor")
	}
	clusters := map[string][2][]string{}
	for name, c := range srv.K8sPSAT.Clusters {
		clusters[name] = [2][]string{c.ServiceAccountAllowList, c.Audience}
	}
	mirror := map[string][2][]string{}
	for name, c := range m.srv.Clusters {
		mirror[name] = [2][]string{c.ServiceAccountAllowList, c.Audience}
	}
	for _, tc := range []struct {
		key       string
		got, want any
	}{
		{"server bind_port", m.srv.Server.BindPort, srv.BindPort},
		{"server socket_path", m.srv.Server.SocketPath, srv.SocketPath},
		{"server trust_domain", m.srv.Server.TrustDomain, srv.TrustDomain.Name()},
		{"server data_dir", m.srv.Server.DataDir, srv.DataDir},
		{"server DataStore connection_string", m.srv.SQL.ConnectionString, srv.DataStore.ConnectionString},
		{"server KeyManager keys_path", m.srv.KeysPath, srv.KeyManager.Path},
		{"server k8s_psat clusters", mirror, clusters},
		{"server k8sbundle", [3]string{m.srv.Bundle.Namespace, m.srv.Bundle.ConfigMap, m.srv.Bundle.ConfigMapKey},
			[3]string{srv.K8sBundle.Namespace, srv.K8sBundle.ConfigMap, srv.K8sBundle.ConfigMapKey}},
		{"server health_checks", m.srv.Health, healthChecks{srv.Health.ListenerEnabled, srv.Health.BindPort, srv.Health.LivePath, srv.Health.ReadyPath}},
		{"agent data_dir", m.agt.Agent.DataDir, agt.DataDir},
		{"agent server_address", m.agt.Agent.ServerAddress, agt.ServerAddress},
		{"agent server_port", m.agt.Agent.ServerPort, agt.ServerPort},
		{"agent socket_path", m.agt.Agent.SocketPath, agt.SocketPath},
		{"agent trust_bundle_path", m.agt.Agent.TrustBundlePath, agt.TrustBundlePath},
		{"agent trust_domain", m.agt.Agent.TrustDomain, agt.TrustDomain.Name()},
		{"agent k8s_psat cluster", m.agt.PSAT.Cluster, agt.K8sPSAT.Cluster},
		{"agent k8s_psat token_path", m.agt.PSAT.TokenPath, agt.K8sPSAT.TokenPath},
		{"agent k8s node_name_env", nodeNameEnv(m.agt), agt.K8s.NodeNameEnv},
		{"agent health_checks", m.agt.Health, healthChecks{agt.Health.ListenerEnabled, agt.Health.BindPort, agt.Health.LivePath, agt.Health.ReadyPath}},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: the checks read %v, pkg/config loads %v", tc.key, fmt.Sprint(tc.got), fmt.Sprint(tc.want))
		}
	}
}
