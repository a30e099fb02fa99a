// Package workloadapi serves the SPIFFE Workload API
// (github.com/spiffe/go-spiffe/v2/proto/spiffe/workload) on a Unix socket,
// wire-compatible with SPIRE's agent: any go-spiffe or SPIRE client can fetch
// X.509-SVIDs, JWT-SVIDs and bundles from it.
//
// A caller is identified by the kernel's peer credentials on the socket
// (package peercred), turned into selectors by an Attestor, and served what
// the agent's Manager holds for those selectors. The package declares the
// small Manager and Attestor interfaces it consumes; it does not import the
// agent.
package workloadapi
