// Package v1alpha1 holds the custom resources the server's registrar
// reads: ClusterSPIFFEID, ClusterStaticEntry and
// ClusterFederatedTrustDomain, in API group spire.spiffe.io, version
// v1alpha1. Field names and JSON spelling are spire-controller-manager's,
// so manifests written for it apply unchanged.
//
// The kubebuilder markers drive the CRD YAML in deploy/k8s (controller-gen
// crd paths=./pkg/server/registrar/api/...); the DeepCopy methods are
// written by hand in deepcopy.go (do not run controller-gen object here).
//
// +groupName=spire.spiffe.io
package v1alpha1
