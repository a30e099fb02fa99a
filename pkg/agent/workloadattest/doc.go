// Package workloadattest is the home of the workload attestors: each
// sub-package turns the process behind a Workload API call into selectors
// (for example unix turns a Linux process into unix:uid:1000,
// unix:path:/usr/bin/app, ...; k8s turns a process in a pod into
// k8s:ns:payments, k8s:sa:billing, ...). They implement
// workloadapi.Attestor. Multi runs several of them as one, as the agent
// does with every configured WorkloadAttestor.
package workloadattest
