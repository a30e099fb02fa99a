// Package k8s is groundwork for the "k8s" workload attestor: it finds the
// pod and container a process runs in from its /proc/<pid>/cgroup file, and
// turns the pod, as the kubelet reports it on its /pods endpoint, into
// SPIRE-compatible k8s selectors.
//
// Selectors, all of type "k8s" (the same set and formats as SPIRE's k8s
// workload attestor, so registration entries written for SPIRE match):
//
//	ns:<namespace>  sa:<service account>  node-name:<node>
//	pod-name:<name>  pod-uid:<uid>  pod-label:<key>:<value>
//	pod-owner:<Kind>:<name>  pod-owner-uid:<Kind>:<uid>
//	pod-image:<image>  pod-init-image:<image>
//	pod-image-count:<n>  pod-init-image-count:<n>
//	container-name:<name>  container-image:<image>
//
// Image selectors come twice per container: once with the image as written
// in the pod spec (tag form) and once with the resolved image ID (digest
// form), so entries can pin either.
//
// The package does not talk to the kubelet and is not yet wired into the
// agent; it only parses.
package k8s
