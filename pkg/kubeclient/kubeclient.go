// Package kubeclient builds the client-go clientsets the server's
// Kubernetes plugins (the k8s_psat node attestor and the k8sbundle
// notifier) talk to an apiserver with: from a kubeconfig file when one is
// configured, else from the in-cluster service account, as SPIRE does.
package kubeclient

import (
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// userAgent identifies the server in apiserver audit logs.
const userAgent = "svidkit-server"

// Client-side rate limits. client-go's defaults (5 QPS, burst 10) would
// throttle a DaemonSet rollout, which costs three requests per agent.
const (
	clientQPS   = 50
	clientBurst = 100
)

// New builds a clientset for the apiserver described by the kubeconfig
// file at path (its current context), or by the in-cluster environment
// (service account token and KUBERNETES_SERVICE_HOST) when path is empty.
func New(path string) (*kubernetes.Clientset, error) {
	var (
		cfg *rest.Config
		err error
	)
	if path == "" {
		cfg, err = rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("kubeclient: in-cluster config (configure a kubeconfig file when the server runs outside the cluster): %w", err)
		}
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("kubeclient: kubeconfig %q: %w", path, err)
		}
	}
	cfg.UserAgent = userAgent
	// client-go defaults to protobuf for built-in types; the few requests
	// these plugins make gain nothing from it, and JSON is what every
	// apiserver, proxy and test fake speaks.
	cfg.ContentType = "application/json"
	cfg.AcceptContentTypes = "application/json"
	cfg.QPS, cfg.Burst = clientQPS, clientBurst
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeclient: build clientset: %w", err)
	}
	return cs, nil
}
