package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterSPIFFEIDSpec describes the entries to create for the pods it
// selects. Every template is a Go text/template over .TrustDomain,
// .ClusterName, .ClusterDomain, .PodMeta, .PodSpec, .NodeMeta and
// .NodeSpec.
type ClusterSPIFFEIDSpec struct {
	// SPIFFEIDTemplate renders the SPIFFE ID of each selected pod's entry.
	// +kubebuilder:validation:MinLength=1
	SPIFFEIDTemplate string `json:"spiffeIDTemplate"`

	// TTL is the X509-SVID time-to-live of the entries; zero means the
	// server default.
	// +kubebuilder:validation:Optional
	TTL metav1.Duration `json:"ttl"`

	// JWTTTL is the JWT-SVID time-to-live of the entries; zero means the
	// server default.
	// +kubebuilder:validation:Optional
	JWTTTL metav1.Duration `json:"jwtTtl"`

	// DNSNameTemplates render extra DNS names for the entries.
	// +kubebuilder:validation:Optional
	DNSNameTemplates []string `json:"dnsNameTemplates,omitempty"`

	// WorkloadSelectorTemplates render selectors (type:value) added to
	// each entry beside k8s:pod-uid.
	// +kubebuilder:validation:Optional
	WorkloadSelectorTemplates []string `json:"workloadSelectorTemplates,omitempty"`

	// FederatesWith lists trust domains the entries federate with.
	// +kubebuilder:validation:Optional
	FederatesWith []string `json:"federatesWith,omitempty"`

	// NamespaceSelector selects the namespaces whose pods are targeted;
	// unset selects every namespace.
	// +kubebuilder:validation:Optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// PodSelector selects the targeted pods; unset selects every pod.
	// +kubebuilder:validation:Optional
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`

	// Admin marks the entries as admin (server API access).
	// +kubebuilder:validation:Optional
	Admin bool `json:"admin,omitempty"`

	// Downstream marks the entries as downstream servers.
	// +kubebuilder:validation:Optional
	Downstream bool `json:"downstream,omitempty"`

	// AutoPopulateDNSNames adds the DNS names of the services whose
	// endpoints include the pod.
	// +kubebuilder:validation:Optional
	AutoPopulateDNSNames bool `json:"autoPopulateDNSNames,omitempty"`

	// ClassName names the registrar class that acts on this resource.
	// +kubebuilder:validation:Optional
	ClassName string `json:"className,omitempty"`

	// Fallback applies this resource only to pods that no other,
	// non-fallback ClusterSPIFFEID selects.
	// +kubebuilder:validation:Optional
	Fallback bool `json:"fallback,omitempty"`

	// Hint is the entry hint.
	// +kubebuilder:validation:Optional
	Hint string `json:"hint,omitempty"`
}

// ClusterSPIFFEIDStatus is what the registrar observed at its last
// reconciliation of the resource.
type ClusterSPIFFEIDStatus struct {
	// Stats of the last reconciliation.
	// +kubebuilder:validation:Optional
	Stats ClusterSPIFFEIDStats `json:"stats"`

	// Warnings about the spec that did not stop rendering, such as the
	// .PodMeta.ServiceAccountName alias (an svidkit addition; absent from
	// spire-controller-manager's schema).
	// +kubebuilder:validation:Optional
	Warnings []string `json:"warnings,omitempty"`
}

// ClusterSPIFFEIDStats counts the outcome of reconciling one
// ClusterSPIFFEID.
type ClusterSPIFFEIDStats struct {
	// NamespacesSelected counts the namespaces the selector matched.
	// +kubebuilder:validation:Optional
	NamespacesSelected int `json:"namespacesSelected"`

	// NamespacesIgnored counts selected namespaces skipped by the
	// registrar's ignore_namespaces.
	// +kubebuilder:validation:Optional
	NamespacesIgnored int `json:"namespacesIgnored"`

	// PodsSelected counts the pods selected in the selected namespaces.
	// +kubebuilder:validation:Optional
	PodsSelected int `json:"podsSelected"`

	// PodEntryRenderFailures counts pods whose entry failed to render (a
	// bad template, or pod data that renders an invalid value).
	// +kubebuilder:validation:Optional
	PodEntryRenderFailures int `json:"podEntryRenderFailures"`

	// EntriesMasked counts entries identical to one an older resource
	// renders, which wins.
	// +kubebuilder:validation:Optional
	EntriesMasked int `json:"entriesMasked"`

	// EntriesToSet counts the entries this resource owns.
	// +kubebuilder:validation:Optional
	EntriesToSet int `json:"entriesToSet"`

	// EntryFailures counts entries the datastore refused.
	// +kubebuilder:validation:Optional
	EntryFailures int `json:"entryFailures"`
}

// ClusterSPIFFEID registers every pod it selects.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster
type ClusterSPIFFEID struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`

	// Spec is the desired registration.
	Spec ClusterSPIFFEIDSpec `json:"spec"`
	// Status is written by the registrar.
	// +optional
	Status ClusterSPIFFEIDStatus `json:"status"`
}

// ClusterSPIFFEIDList is a list of ClusterSPIFFEID.
//
// +kubebuilder:object:root=true
type ClusterSPIFFEIDList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`
	// Items are the resources.
	Items []ClusterSPIFFEID `json:"items"`
}
