package registrar

import (
	"context"
	"net"
	"os"
	"strings"
)

// PodNamespace returns the namespace of the pod the server runs in: the
// POD_NAMESPACE environment variable (the downward API, or set by hand
// for a server outside the cluster), else the service account mount; ""
// when neither says.
func PodNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	b, err := os.ReadFile(serviceAccountNamespace)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// DefaultClusterDomain is used when the cluster domain is neither
// configured nor detected.
const DefaultClusterDomain = "cluster.local"

// DetectClusterDomain finds the cluster's DNS domain as
// spire-controller-manager does: the canonical name of
// kubernetes.default.svc is kubernetes.default.svc.<domain>.
func DetectClusterDomain(ctx context.Context, r *net.Resolver) (string, bool) {
	const svc = "kubernetes.default.svc."
	cname, err := r.LookupCNAME(ctx, "kubernetes.default.svc")
	if err != nil {
		return "", false
	}
	domain, ok := strings.CutPrefix(cname, svc)
	domain = strings.TrimSuffix(domain, ".")
	return domain, ok && domain != ""
}
