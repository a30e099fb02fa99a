package k8spsat_test

import (
	"encoding/json"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/server/nodeattest/k8spsat"
)

// The payload an agent sends as AttestationData{Type: "k8s_psat"}.
func ExampleAttestationData() {
	b, _ := json.Marshal(k8spsat.AttestationData{Cluster: "demo-cluster", Token: "eyJhbGciOiJSUzI1NiJ9..."})
	fmt.Println(string(b))
	// Output: {"cluster":"demo-cluster","token":"eyJhbGciOiJSUzI1NiJ9..."}
}

func ExampleAgentID() {
	id, _ := k8spsat.AgentID(spiffeid.RequireTrustDomainFromString("example.org"), "demo-cluster", "5a6f1c1e-0d4b-4b8e-9c59-1f0e2f8b1d2a")
	fmt.Println(id)
	// Output: spiffe://example.org/spire/agent/k8s_psat/demo-cluster/5a6f1c1e-0d4b-4b8e-9c59-1f0e2f8b1d2a
}
