package k8spsat

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/svidkit/svidkit/pkg/selector"
)

// Selector value prefixes, as SPIRE forms them: the selector type is
// "k8s_psat" and the value "<name>:<value>", e.g. k8s_psat:cluster:demo or
// k8s_psat:agent_node_label:topology.kubernetes.io/zone:eu-1.
const (
	SelectorCluster        = "cluster"
	SelectorAgentNS        = "agent_ns"
	SelectorAgentSA        = "agent_sa"
	SelectorAgentPodName   = "agent_pod_name"
	SelectorAgentPodUID    = "agent_pod_uid"
	SelectorAgentNodeIP    = "agent_node_ip"
	SelectorAgentNodeName  = "agent_node_name"
	SelectorAgentNodeUID   = "agent_node_uid"
	SelectorAgentNodeLabel = "agent_node_label"
	SelectorAgentPodLabel  = "agent_pod_label"
)

// selectors builds the node selectors of an attested agent. Only labels
// whose keys the cluster allows become selectors, so that a label an
// operator did not vet cannot widen what an agent is entitled to.
func selectors(cl *cluster, ns, sa string, pod *corev1.Pod, node *corev1.Node) selector.Set {
	sel := func(parts ...string) selector.Selector {
		v := parts[0]
		for _, p := range parts[1:] {
			v += ":" + p
		}
		return selector.Selector{Type: Type, Value: v}
	}
	out := []selector.Selector{
		sel(SelectorCluster, cl.name),
		sel(SelectorAgentNS, ns),
		sel(SelectorAgentSA, sa),
		sel(SelectorAgentPodName, pod.Name),
		sel(SelectorAgentPodUID, string(pod.UID)),
		sel(SelectorAgentNodeName, pod.Spec.NodeName),
		sel(SelectorAgentNodeUID, string(node.UID)),
	}
	if pod.Status.HostIP != "" {
		out = append(out, sel(SelectorAgentNodeIP, pod.Status.HostIP))
	}
	for k, v := range node.Labels {
		if cl.nodeLabelKeys[k] {
			out = append(out, sel(SelectorAgentNodeLabel, k, v))
		}
	}
	for k, v := range pod.Labels {
		if cl.podLabelKeys[k] {
			out = append(out, sel(SelectorAgentPodLabel, k, v))
		}
	}
	return selector.NewSet(out...)
}
