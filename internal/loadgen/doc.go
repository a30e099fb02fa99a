// Package loadgen drives svidkit servers with many simulated agents, to
// measure what a deployment of that size costs: attestations and SVIDs
// signed per second, how fast entry changes reach agents (with and without
// churn, on the same server and across servers), the servers' CPU and
// memory, and the database calls per second.
//
// Each simulated agent is the real agent core (pkg/agent.Agent) run in
// this process, with its own join token, key, mTLS connection and SVID, so
// the servers see exactly the traffic of real agents: AttestAgent, the
// held SyncAuthorizedEntries long poll, GetBundle, BatchNewX509SVID and
// rotation at half life. Only the Workload API socket is left out: a
// subscription to each agent's cache stands in for its workloads.
//
// Run sets up (join tokens, entries parented to each agent), starts the
// agents, then measures phases: the ramp until every agent holds all its
// SVIDs, an idle phase with a light probe, a churn phase creating and
// deleting entries at a set rate, and optionally one full SVID rotation.
//
// Propagation probes run in a prober process of their own (this program
// re-executed, see MaybeRunProber) with probe agents of its own, so
// that the fleet's heap, garbage collections and scheduler do not weigh
// on their timings: in a deployment every agent has its own machine.
package loadgen
