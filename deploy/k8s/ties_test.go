package k8s_test

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
)

// problems collects the failures of one check.
type problems []error

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Errorf(format, args...)) }

// addErr records err if it is not nil.
func (p *problems) addErr(err error) {
	if err != nil {
		*p = append(*p, err)
	}
}

func (p problems) err() error { return errors.Join(p...) }

// tieCheck is one rule about names that must agree, with a mistake it
// must catch (TestTieChecksCatchMistakes makes it on a fresh copy).
type tieCheck struct {
	name    string
	check   func(m *model) error
	mistake func(m *model)
}

func tieChecks() []tieCheck {
	return []tieCheck{
		{"agent service account may read pods, nodes and nodes/proxy", checkAgentRBAC,
			func(m *model) { m.agent.pod.spec.ServiceAccountName = "spire-agent-typo" }},
		{"server service account may review tokens and read pods and nodes", checkServerRBAC,
			func(m *model) { m.server.pod.spec.ServiceAccountName = "default" }},
		{"server service account may get and patch the bundle ConfigMap", checkBundleRBAC,
			func(m *model) { m.srv.Bundle.ConfigMap = "trust-bundle" }},
		{"agent trusts the bundle ConfigMap the notifier writes", checkBundleMount,
			func(m *model) { m.srv.Bundle.ConfigMapKey = "bundle.pem" }},
		{"projected token has an audience of the agent's k8s_psat cluster", checkTokenAudience,
			func(m *model) { agentCluster(m).Audience = []string{"kube-apiserver"} }},
		{"k8s_psat cluster of the agent is configured on the server", checkClusterName,
			func(m *model) { m.agt.PSAT.Cluster = "prod-cluster" }},
		{"k8s_psat allow list holds the agent's service account", checkAllowList,
			func(m *model) { agentCluster(m).ServiceAccountAllowList = []string{"spire:spire-server"} }},
		{"daemons calling Kubernetes APIs get their service-account token", checkAPITokens,
			func(m *model) { m.server.pod.spec.AutomountServiceAccountToken = ptr(false) }},
		{"agent node name comes from the downward API", checkNodeName,
			func(m *model) { m.agt.K8s.NodeNameEnv = "NODE_NAME" }},
		{"agent socket directory is a hostPath", checkAgentSocketDir,
			func(m *model) { m.agt.Agent.SocketPath = "/tmp/spire-agent/public/api.sock" }},
		{"workloads dial the agent socket through the same hostPath", checkWorkloadSockets,
			func(m *model) { m.helpers[len(m.helpers)-1].cfg.AgentAddress = "/run/spire/sockets/agent.sock" }},
		{"workloads' CSI volumes show the agent's socket directory", checkWorkloadSockets,
			func(m *model) { replaceCSIArg(m, "/spire-agent-socket", "/run/spire/config") }},
		{"CSIDriver object matches the driver's name and modes", checkCSIDriver,
			func(m *model) {
				objectOf[*storagev1.CSIDriver](m.s, "", "csi.spiffe.io").Spec.PodInfoOnMount = ptr(false)
			}},
		{"kubelet, registrar and driver meet on the CSI socket", checkCSISockets,
			func(m *model) { replaceCSIArg(m, "/spiffe-csi/csi.sock", "/spiffe-csi/plugin.sock") }},
		{"CSI driver mounts into the pods' directory with Bidirectional propagation", checkCSIMountpoints,
			func(m *model) { m.csi.c.VolumeMounts[len(m.csi.c.VolumeMounts)-1].MountPropagation = nil }},
		{"CSI volumes are read-only and name the driver", checkCSIVolumes,
			func(m *model) { firstCSIVolume(m).ReadOnly = ptr(false) }},
		{"CSI driver's probes ask its health listener", checkCSIProbes,
			func(m *model) { replaceCSIArg(m, "0.0.0.0:8082", "0.0.0.0:8083") }},
		{"agent reaches the server through its Service", checkServerService,
			func(m *model) { m.agt.Agent.ServerPort = 8443 }},
		{"probes ask the health listeners", checkProbes,
			func(m *model) { m.srv.Health.ReadyPath = "/healthz" }},
		{"server state is on the PersistentVolume", checkServerState,
			func(m *model) { m.srv.KeysPath = "/tmp/spire-server/private/keys.json" }},
		{"daemons write only to writable volumes", checkWritablePaths,
			func(m *model) { m.agt.Agent.DataDir = "/run/spire/bundle/data" }},
		{"svidkit containers are locked down", checkSecurityContexts,
			func(m *model) { m.agent.c.SecurityContext.ReadOnlyRootFilesystem = nil }},
		{"only the CSI driver is privileged", checkSecurityContexts,
			func(m *model) { m.agent.c.SecurityContext.Privileged = ptr(true) }},
		{"helper signals PostgreSQL through a shared pid file", checkPIDFile,
			func(m *model) { pidHelper(m).cfg.PIDFileName = "/var/lib/postgresql/data/postmaster.pid" }},
		{"certificates are in memory where their consumers read them", checkCertFiles,
			func(m *model) { pidHelper(m).cfg.SVIDKeyFileName = "key.pem" }},
		{"init and sidecar helpers write the same files", checkInitMatchesSidecar,
			func(m *model) { pidHelper(m).cfg.CertFileMode = 0o640 }},
		{"key file belongs to the user who reads it", checkKeyOwner,
			func(m *model) { pidHelper(m).c.SecurityContext.RunAsUser = ptr(int64(1000)) }},
		{"PostgreSQL requires client certificates", checkHBAFile,
			func(m *model) {
				replaceArg(m, "hba_file=/etc/postgresql/pg_hba.conf", "hba_file=/var/lib/postgresql/data/pgdata/pg_hba.conf")
			}},
		{"registrar names the agents' cluster and skips the server's namespace", checkRegistrarCluster,
			func(m *model) { m.srv.Registrar.ClusterName = "prod-cluster" }},
		{"server service account may watch what the registrar reads and hold its Lease", checkRegistrarRBAC,
			func(m *model) { registrarRole(m).Rules = registrarRole(m).Rules[1:] }},
		{"entries are in the trust domain under the node's agent", checkEntryIDs,
			func(m *model) {
				spiffeIDOf(m, "legacy-db-db").Spec.SPIFFEIDTemplate = "spiffe://example.com/ns/{{ .PodMeta.Namespace }}/sa/db"
			}},
		{"entries under the node's agent need the registrar's cluster", checkEntryIDs,
			func(m *model) { m.srv.Registrar.ClusterName = "prod-cluster" }},
		{"every identity pod has one entry and every ClusterSPIFFEID a pod", checkEntriesMatchPods,
			func(m *model) { spiffeIDOf(m, "legacy-db-app").Spec.PodSelector.MatchLabels["app"] = "client" }},
		{"envoy's pod is registered", checkEntriesMatchPods,
			func(m *model) {
				spiffeIDOf(m, "envoy-web").Spec.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] = "web"
			}},
		{"client's host and user are in the SVIDs", checkClientNames,
			func(m *model) { spiffeIDOf(m, "legacy-db-db").Spec.DNSNameTemplates = []string{"db.local"} }},
	}
}

// TestNamesTieTogether checks, one named rule at a time, that what one
// object or configuration names another has.
func TestNamesTieTogether(t *testing.T) {
	m := buildModel(t, loadManifests(t))
	for _, tc := range tieChecks() {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.check(m); err != nil {
				t.Error(err)
			}
		})
	}
}

func checkAgentRBAC(m *model) error {
	var p problems
	ns, sa := m.agent.pod.meta.GetNamespace(), m.agent.pod.serviceAccount()
	rules := boundRules(m.s, ns, sa, "")
	for _, res := range []string{"pods", "nodes", "nodes/proxy"} {
		if !allows(rules, "", res, "get", "") {
			p.add("no ClusterRoleBinding lets %s:%s (the agent DaemonSet's serviceAccountName) get %s", ns, sa, res)
		}
	}
	return p.err()
}

func checkServerRBAC(m *model) error {
	var p problems
	ns, sa := m.server.pod.meta.GetNamespace(), m.server.pod.serviceAccount()
	rules := boundRules(m.s, ns, sa, "")
	if !allows(rules, "authentication.k8s.io", "tokenreviews", "create", "") {
		p.add("no ClusterRoleBinding lets %s:%s (the server's serviceAccountName) create tokenreviews", ns, sa)
	}
	for _, res := range []string{"pods", "nodes"} {
		if !allows(rules, "", res, "get", "") {
			p.add("no ClusterRoleBinding lets %s:%s get %s", ns, sa, res)
		}
	}
	return p.err()
}

func checkBundleRBAC(m *model) error {
	var p problems
	ns, sa := m.server.pod.meta.GetNamespace(), m.server.pod.serviceAccount()
	b := m.srv.Bundle
	rules := boundRules(m.s, ns, sa, b.Namespace)
	for _, verb := range []string{"get", "patch"} {
		if !allows(rules, "", "configmaps", verb, b.ConfigMap) {
			p.add("%s:%s may not %s ConfigMap %s/%s (the k8sbundle notifier's)", ns, sa, verb, b.Namespace, b.ConfigMap)
		}
	}
	return p.err()
}

func checkBundleMount(m *model) error {
	var p problems
	b := m.srv.Bundle
	cm, ok := find[*corev1.ConfigMap](m.s, b.Namespace, b.ConfigMap)
	if !ok {
		p.add("the k8sbundle notifier writes ConfigMap %s/%s, which the manifests do not create", b.Namespace, b.ConfigMap)
	} else if _, ok := cm.v.Data[b.ConfigMapKey]; !ok {
		p.add("%s: ConfigMap %s has no key %q (config_map_key)", cm.file, cm.id(), b.ConfigMapKey)
	}
	if ns := m.agent.pod.meta.GetNamespace(); ns != b.Namespace {
		p.add("the agent runs in namespace %s but the bundle ConfigMap is in %s", ns, b.Namespace)
	}
	name, key, _, err := m.agent.configMapFile(m.s, m.agt.Agent.TrustBundlePath)
	switch {
	case err != nil:
		p.add("trust_bundle_path: %w", err)
	case name != b.ConfigMap || key != b.ConfigMapKey:
		p.add("trust_bundle_path %s is ConfigMap %s key %s; the notifier writes %s key %s", m.agt.Agent.TrustBundlePath, name, key, b.ConfigMap, b.ConfigMapKey)
	}
	return p.err()
}

func checkTokenAudience(m *model) error {
	loc, err := m.agent.locate(m.agt.PSAT.TokenPath)
	if err != nil {
		return fmt.Errorf("token_path: %w", err)
	}
	if loc.volume == nil || loc.volume.Projected == nil {
		return fmt.Errorf("%s: token_path %s is on volume %q, not a projected volume", m.agent.where(), m.agt.PSAT.TokenPath, loc.volumeName())
	}
	cluster, ok := m.srv.Clusters[m.agt.PSAT.Cluster]
	if !ok {
		return fmt.Errorf("the server has no k8s_psat cluster %q", m.agt.PSAT.Cluster)
	}
	for _, src := range loc.volume.Projected.Sources {
		if tok := src.ServiceAccountToken; tok != nil && tok.Path == loc.rel {
			if !slices.Contains(cluster.Audience, tok.Audience) {
				return fmt.Errorf("the projected token %s has audience %q; the server's cluster %q accepts %q", m.agt.PSAT.TokenPath, tok.Audience, m.agt.PSAT.Cluster, cluster.Audience)
			}
			return nil
		}
	}
	return fmt.Errorf("projected volume %q has no serviceAccountToken at %q (token_path %s)", loc.volumeName(), loc.rel, m.agt.PSAT.TokenPath)
}

func checkClusterName(m *model) error {
	if m.agt.PSAT.Cluster == "" {
		return errors.New("agent.conf: k8s_psat has no cluster")
	}
	if _, ok := m.srv.Clusters[m.agt.PSAT.Cluster]; !ok {
		return fmt.Errorf("agent.conf names k8s_psat cluster %q; server.conf has %q", m.agt.PSAT.Cluster, slices.Sorted(mapKeys(m.srv.Clusters)))
	}
	return nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func checkAllowList(m *model) error {
	want := m.agent.pod.meta.GetNamespace() + ":" + m.agent.pod.serviceAccount()
	cluster, ok := m.srv.Clusters[m.agt.PSAT.Cluster]
	if !ok {
		return fmt.Errorf("the server has no k8s_psat cluster %q", m.agt.PSAT.Cluster)
	}
	allow := cluster.ServiceAccountAllowList
	if !slices.Contains(allow, want) {
		return fmt.Errorf("cluster %q: service_account_allow_list %q lacks the agent's %s", m.agt.PSAT.Cluster, allow, want)
	}
	return nil
}

// nodeNameEnv returns the k8s workload attestor's node_name_env, with
// SPIRE's default.
func nodeNameEnv(c *agentConf) string {
	if c.K8s.NodeNameEnv == "" {
		return "MY_NODE_NAME"
	}
	return c.K8s.NodeNameEnv
}

func checkNodeName(m *model) error {
	name := nodeNameEnv(m.agt)
	for _, e := range m.agent.c.Env {
		if e.Name == name {
			if e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
				return fmt.Errorf("%s: %s is not taken from the downward API's spec.nodeName", m.agent.where(), name)
			}
			return nil
		}
	}
	return fmt.Errorf("%s: no %s variable (node_name_env)", m.agent.where(), name)
}

// mountsToken reports whether pod p gets its service-account token
// mounted: neither the pod nor its ServiceAccount turns automounting off
// (the pod's setting wins).
func mountsToken(s *manifestSet, p pod) bool {
	if a := p.spec.AutomountServiceAccountToken; a != nil {
		return *a
	}
	if sa, ok := find[*corev1.ServiceAccount](s, p.meta.GetNamespace(), p.serviceAccount()); ok && sa.v.AutomountServiceAccountToken != nil {
		return *sa.v.AutomountServiceAccountToken
	}
	return true
}

// checkAPITokens: the server's k8s_psat attestor and k8sbundle notifier use
// the in-cluster configuration, and the agent's k8s attestor authenticates
// to the kubelet, with the pod's service-account token.
func checkAPITokens(m *model) error {
	var p problems
	for _, c := range []container{m.server, m.agent} {
		if !mountsToken(m.s, c.pod) {
			p.add("%s: the service-account token is not mounted (automountServiceAccountToken: false), but the daemon calls the Kubernetes API", c.where())
		}
	}
	return p.err()
}

// agentHostSocket returns the node path of the agent's Workload API socket.
func agentHostSocket(m *model) (string, error) {
	sock := m.agt.Agent.SocketPath
	loc, err := m.agent.locate(path.Dir(sock))
	if err != nil {
		return "", fmt.Errorf("socket_path %s: %w", sock, err)
	}
	dir, err := loc.hostPath()
	if err != nil {
		return "", fmt.Errorf("%s: socket_path %s: %w", m.agent.where(), sock, err)
	}
	return path.Join(dir, path.Base(sock)), nil
}

func checkAgentSocketDir(m *model) error {
	var p problems
	if _, err := agentHostSocket(m); err != nil {
		return err
	}
	loc, _ := m.agent.locate(path.Dir(m.agt.Agent.SocketPath))
	if loc.mount.ReadOnly {
		p.add("%s: the socket directory is mounted read-only", m.agent.where())
	}
	if hp := loc.volume.HostPath; hp.Type == nil || *hp.Type != corev1.HostPathDirectoryOrCreate {
		p.add("%s: hostPath %s should be type DirectoryOrCreate, so the first agent on a node creates it", m.agent.where(), hp.Path)
	}
	return p.err()
}

// dialedSocket returns the node path of the Workload API socket container c
// dials at address (a path or unix:// URL): on a hostPath volume, or on
// an inline CSI volume that svidkit-csi publishes (see csiNodePath).
func dialedSocket(m *model, c container, address string) (string, error) {
	if address == "" {
		return "", fmt.Errorf("%s: no agent address; set it rather than rely on a default", c.where())
	}
	file := strings.TrimPrefix(address, "unix://")
	loc, err := c.locate(file)
	if err != nil {
		return "", err
	}
	if loc.volume != nil && loc.volume.CSI != nil {
		return csiNodePath(m, c, loc)
	}
	return loc.hostPath()
}

func checkWorkloadSockets(m *model) error {
	var p problems
	want, err := agentHostSocket(m)
	if err != nil {
		return err
	}
	dirs := map[string]int{}
	check := func(c container, address string) {
		dirs[path.Dir(c.pod.file)]++
		got, err := dialedSocket(m, c, address)
		switch {
		case err != nil:
			p.addErr(err)
		case got != want:
			p.add("%s dials %s, which is %s on the node; the agent listens on %s", c.where(), address, got, want)
		}
	}
	for _, h := range m.helpers {
		check(h.container, h.cfg.AgentAddress)
	}
	for _, c := range m.sds {
		args := append(slices.Clone(c.c.Command[min(len(c.c.Command), 1):]), c.c.Args...)
		addr, _ := flagValue(args, "agent-address")
		check(c, addr)
	}
	for _, dir := range []string{"examples/legacy-db/k8s", "examples/envoy"} {
		if dirs[dir] == 0 {
			p.add("no Workload API client found in %s", dir)
		}
	}
	return p.err()
}

func checkServerService(m *model) error {
	var p problems
	svc, selected, err := serviceFor(m.s, m.agt.Agent.ServerAddress, m.agent.pod.meta.GetNamespace())
	if err != nil {
		return fmt.Errorf("server_address: %w", err)
	}
	if len(selected) != 1 || selected[0].id() != m.server.pod.id() || selected[0].gvk != m.server.pod.gvk {
		p.add("Service %s does not select exactly the server pod", svc.id())
		return p.err()
	}
	got, c, err := servicePort(svc, m.server.pod, int32(m.agt.Agent.ServerPort))
	switch {
	case err != nil:
		p.add("server_port: %w", err)
	case c.c.Name != m.server.c.Name || got != int32(m.srv.Server.BindPort):
		p.add("Service %s port %d reaches %s port %d; the server binds %d", svc.id(), m.agt.Agent.ServerPort, c.where(), got, m.srv.Server.BindPort)
	}
	return p.err()
}

// checkProbe compares one probe with the listener's port and path.
func checkProbe(c container, which string, probe *corev1.Probe, port int, path string) error {
	if probe == nil || probe.HTTPGet == nil {
		return fmt.Errorf("%s: no HTTP %s probe", c.where(), which)
	}
	got, err := c.port(probe.HTTPGet.Port.String())
	if err != nil {
		return err
	}
	if int(got) != port || probe.HTTPGet.Path != path {
		return fmt.Errorf("%s: %s probe asks :%d%s; the health listener serves %s on :%d", c.where(), which, got, probe.HTTPGet.Path, path, port)
	}
	return nil
}

func checkProbes(m *model) error {
	var p problems
	for _, d := range []struct {
		c container
		h healthChecks
	}{{m.server, m.srv.Health}, {m.agent, m.agt.Health}} {
		if !d.h.ListenerEnabled {
			p.add("%s: health_checks listener_enabled is not true", d.c.where())
			continue
		}
		p.addErr(checkProbe(d.c, "liveness", d.c.c.LivenessProbe, d.h.BindPort, d.h.LivePath))
		p.addErr(checkProbe(d.c, "readiness", d.c.c.ReadinessProbe, d.h.BindPort, d.h.ReadyPath))
	}
	for _, h := range m.helpers {
		if h.c.LivenessProbe == nil && h.c.ReadinessProbe == nil {
			continue
		}
		hc := h.cfg.Health
		if !hc.ListenerEnabled || !h.cfg.DaemonMode {
			p.add("%s has probes but no health listener (daemon mode and health_checks listener_enabled)", h.where())
			continue
		}
		p.addErr(checkProbe(h.container, "liveness", h.c.LivenessProbe, hc.BindPort, hc.LivenessPath))
		p.addErr(checkProbe(h.container, "readiness", h.c.ReadinessProbe, hc.BindPort, hc.ReadinessPath))
	}
	return p.err()
}

// onWritableVolume checks that file (or the directory itself) is on a
// volume mounted read-write in c, of the kind wanted ("claim" for a
// volumeClaimTemplate, "" for any).
func onWritableVolume(c container, what, file, want string) error {
	loc, err := c.locate(file)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	case loc.mount.ReadOnly:
		return fmt.Errorf("%s: %s %s is on read-only mount %s", c.where(), what, file, loc.mount.MountPath)
	case want == "claim" && !loc.claim:
		return fmt.Errorf("%s: %s %s is on volume %q, not on a volumeClaimTemplate (lost with the pod)", c.where(), what, file, loc.volumeName())
	case loc.volume != nil && loc.volume.ConfigMap != nil, loc.volume != nil && loc.volume.Projected != nil:
		return fmt.Errorf("%s: %s %s is on read-only volume %q", c.where(), what, file, loc.volumeName())
	}
	return nil
}

func checkServerState(m *model) error {
	var p problems
	if m.srv.SQL.DatabaseType != "sqlite3" {
		p.add("server.conf: DataStore sql database_type %q; this check expects sqlite3 on the PersistentVolume", m.srv.SQL.DatabaseType)
	}
	db, _, _ := strings.Cut(strings.TrimPrefix(m.srv.SQL.ConnectionString, "file:"), "?")
	for _, f := range []struct{ what, file string }{
		{"data_dir", m.srv.Server.DataDir},
		{"DataStore connection_string", db},
		{"KeyManager disk keys_path", m.srv.KeysPath},
	} {
		p.addErr(onWritableVolume(m.server, f.what, f.file, "claim"))
	}
	return p.err()
}

func checkWritablePaths(m *model) error {
	var p problems
	p.addErr(onWritableVolume(m.server, "socket_path directory", path.Dir(m.srv.Server.SocketPath), ""))
	p.addErr(onWritableVolume(m.agent, "data_dir", m.agt.Agent.DataDir, ""))
	p.addErr(onWritableVolume(m.agent, "socket_path directory", path.Dir(m.agt.Agent.SocketPath), ""))
	for _, h := range m.helpers {
		p.addErr(onWritableVolume(h.container, "cert_dir", h.cfg.CertDir, ""))
	}
	return p.err()
}

func checkSecurityContexts(m *model) error {
	var p problems
	for _, pd := range pods(m.s) {
		for _, c := range pd.containers() {
			if svidkitTool(c.c.Image) == "" {
				continue
			}
			sc := c.c.SecurityContext
			if sc == nil {
				p.add("%s: no securityContext", c.where())
				continue
			}
			privileged := sc.Privileged != nil && *sc.Privileged
			switch {
			case svidkitTool(c.c.Image) == "svidkit-csi":
				// It mounts (CAP_SYS_ADMIN), and Bidirectional mount
				// propagation is refused to unprivileged containers; the
				// API server refuses allowPrivilegeEscalation: false then.
				if !privileged {
					p.add("%s: not privileged: the CSI driver's mounts need it", c.where())
				}
			case privileged:
				p.add("%s: privileged", c.where())
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				p.add("%s: allowPrivilegeEscalation is not false", c.where())
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				p.add("%s: readOnlyRootFilesystem is not true", c.where())
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
				p.add("%s: capabilities do not drop ALL (and add none)", c.where())
			}
		}
	}
	return p.err()
}
