package kubeenv

import (
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// TokenConfig returns a config for the same apiserver that authenticates
// with token (a service account's, say) instead of the admin token.
func (e *Env) TokenConfig(token string) *rest.Config {
	cfg := rest.AnonymousClientConfig(e.Config)
	cfg.BearerToken = token
	return cfg
}

// Kubeconfig writes dir/kubeconfig for cfg (Config, or one from
// TokenConfig): the apiserver's URL, its certificate and cfg's bearer
// token. It returns the file's path.
func Kubeconfig(t testing.TB, dir string, cfg *rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["kubeenv"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["kubeenv"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["kubeenv"] = &clientcmdapi.Context{Cluster: "kubeenv", AuthInfo: "kubeenv"}
	kc.CurrentContext = "kubeenv"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatalf("kubeenv: write kubeconfig: %v", err)
	}
	return path
}
