package config

import (
	"time"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/token"

	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// DefaultNodeNameEnv is the environment variable the k8s workload attestor
// reads the node name from when node_name is not set (SPIRE's default; a
// DaemonSet sets it from the downward API's spec.nodeName).
const DefaultNodeNameEnv = "MY_NODE_NAME"

// K8sAttestor is the k8s WorkloadAttestor's plugin_data. Empty paths and
// zero numbers mean the attestor's defaults (SPIRE's for the kubelet:
// secure port 10250, the pod's service-account token and CA).
type K8sAttestor struct {
	// KubeletReadOnlyPort, when set, reads pods from the kubelet's
	// unauthenticated read-only port on 127.0.0.1 over plain HTTP.
	KubeletReadOnlyPort int
	// KubeletSecurePort is the kubelet's HTTPS port (default 10250).
	KubeletSecurePort int
	// SkipKubeletVerification accepts any kubelet serving certificate.
	SkipKubeletVerification bool
	// KubeletCAPath verifies the kubelet's serving certificate.
	KubeletCAPath string
	// TokenPath is the bearer token sent to the kubelet.
	TokenPath string
	// CertificatePath and PrivateKeyPath authenticate to the kubelet with a
	// client certificate instead of a token.
	CertificatePath string
	PrivateKeyPath  string
	// UseAnonymousAuthentication sends no credentials to the kubelet.
	UseAnonymousAuthentication bool
	// NodeNameEnv names the environment variable holding the node name
	// (default MY_NODE_NAME); NodeName, when set, wins over it.
	NodeNameEnv string
	NodeName    string
	// MaxPollAttempts and PollRetryInterval bound the wait for a pod the
	// kubelet does not list yet.
	MaxPollAttempts   int
	PollRetryInterval time.Duration
	// DisableContainerSelectors drops the container-name and
	// container-image selectors.
	DisableContainerSelectors bool

	// ProcRoot is where the host's proc filesystem is mounted; empty means
	// /proc. It is a svidkit setting with no HCL key (SPIRE has none): set
	// it in the runtime configuration when the agent sees the host's
	// processes under another path, as tests with a fake proc tree do.
	ProcRoot string
}

// ResolveNodeName returns the node name the kubelet is reached at:
// node_name when set, else the value of the node_name_env variable as
// getenv reports it (os.Getenv in the agent). Empty means 127.0.0.1.
func (k *K8sAttestor) ResolveNodeName(getenv func(string) string) string {
	if k.NodeName != "" {
		return k.NodeName
	}
	env := k.NodeNameEnv
	if env == "" {
		env = DefaultNodeNameEnv
	}
	return getenv(env)
}

// k8sWorkloadAttestor decodes WorkloadAttestor "k8s". SPIRE keys that only
// tune SPIRE's own implementation are accepted with a warning, so configs
// written for SPIRE load; unknown keys are errors.
func (d *decoder) k8sWorkloadAttestor(a *Agent, p plugin) {
	k := &K8sAttestor{NodeNameEnv: DefaultNodeNameEnv}
	a.K8s = k
	var (
		readOnlyPos, securePos, attemptsPos, certPos token.Pos
		reloadInterval                               time.Duration
		newLocator, verboseLocator                   bool
	)
	at := func(pos *token.Pos, f hcldecode.Field) hcldecode.Field {
		return func(it *ast.ObjectItem) { *pos = it.Pos(); f(it) }
	}
	ignored := func(f hcldecode.Field, why string) hcldecode.Field {
		return func(it *ast.ObjectItem) {
			f(it)
			d.Warnf(it.Pos(), "WorkloadAttestor \"k8s\": %s is ignored: %s", hcldecode.KeyName(it.Keys[0]), why)
		}
	}
	d.pluginData(p, map[string]hcldecode.Field{
		"kubelet_read_only_port":       at(&readOnlyPos, d.Int(&k.KubeletReadOnlyPort)),
		"kubelet_secure_port":          at(&securePos, d.Int(&k.KubeletSecurePort)),
		"skip_kubelet_verification":    d.Bool(&k.SkipKubeletVerification),
		"kubelet_ca_path":              d.String(&k.KubeletCAPath),
		"token_path":                   d.String(&k.TokenPath),
		"certificate_path":             at(&certPos, d.String(&k.CertificatePath)),
		"private_key_path":             at(&certPos, d.String(&k.PrivateKeyPath)),
		"use_anonymous_authentication": d.Bool(&k.UseAnonymousAuthentication),
		"node_name_env":                d.String(&k.NodeNameEnv),
		"node_name":                    d.String(&k.NodeName),
		"max_poll_attempts":            at(&attemptsPos, d.Int(&k.MaxPollAttempts)),
		"poll_retry_interval":          d.Duration(&k.PollRetryInterval),
		"disable_container_selectors":  d.Bool(&k.DisableContainerSelectors),
		"reload_interval": ignored(d.Duration(&reloadInterval),
			"svidkit re-reads the token, CA and client certificate whenever they change"),
		"use_new_container_locator": ignored(d.Bool(&newLocator),
			"svidkit always locates containers from /proc/<pid>/cgroup"),
		"verbose_container_locator_logs": ignored(d.Bool(&verboseLocator),
			"svidkit logs container lookups at debug level"),
		"experimental": ignored(func(it *ast.ObjectItem) { d.Object(it) },
			"experimental features (sigstore image verification) are not supported, so no image-signature selectors are produced"),
	})
	const what = "plugin_data of WorkloadAttestor \"k8s\""
	if k.KubeletReadOnlyPort > 0 && k.KubeletSecurePort > 0 {
		d.Errorf(securePos, "%s: set kubelet_read_only_port or kubelet_secure_port, not both", what)
	}
	if err := checkPort(k.KubeletReadOnlyPort); err != nil {
		d.Errorf(readOnlyPos, "%s: kubelet_read_only_port: %v", what, err)
	}
	if err := checkPort(k.KubeletSecurePort); err != nil {
		d.Errorf(securePos, "%s: kubelet_secure_port: %v", what, err)
	}
	if k.MaxPollAttempts < 0 {
		d.Errorf(attemptsPos, "%s: max_poll_attempts: want a positive number, got %d", what, k.MaxPollAttempts)
	}
	if (k.CertificatePath == "") != (k.PrivateKeyPath == "") {
		d.Errorf(certPos, "%s: certificate_path and private_key_path must be set together", what)
	}
	if k.KubeletReadOnlyPort > 0 && (k.SkipKubeletVerification || k.KubeletCAPath != "" || k.CertificatePath != "" || k.UseAnonymousAuthentication) {
		d.Warnf(readOnlyPos, "%s: kubelet_read_only_port is plain HTTP: TLS and authentication settings are ignored", what)
	}
}
