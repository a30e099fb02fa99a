// Package k8s is the agent's "k8s" workload attestor (SPIRE's
// WorkloadAttestor "k8s"). Attestor finds the pod and container a process
// runs in from its /proc/<pid>/cgroup file (ParseCgroup), looks the pod up
// in the pod list of this node's kubelet (Kubelet, GET /pods on the
// read-only or the secure port), and turns it into SPIRE-compatible k8s
// selectors.
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
// A process in the host's namespaces (not in a container) gets no k8s
// selectors and no error, so node programs still attest with the unix
// attestor's. A container whose pod or status the kubelet does not list
// yet (it reports new containers a moment after they start) is searched
// for again every PollRetryInterval, up to MaxPollAttempts times, before
// attestation fails naming the pod UID and container ID. One pod list is
// shared by the attestations of a short window, so a node starting many
// workloads at once sends the kubelet one request, not one per workload.
//
// The agent runs Attestor next to the unix attestor through
// workloadattest.Multi (see pkg/agentd); the agent needs the host's PID
// namespace (hostPID) to see workloads' /proc entries.
package k8s
