package workloadattest

import (
	"context"
	"fmt"

	"github.com/svidkit/svidkit/pkg/procid"
	"github.com/svidkit/svidkit/pkg/selector"
)

// Attestor turns a process into selectors. It has the method set of
// workloadapi.Attestor, declared here so that attestors compose without
// this package importing the Workload API.
type Attestor interface {
	Attest(ctx context.Context, p *procid.Process, uid, gid uint32) (selector.Set, error)
}

// Named is one member of a Multi; Name ("unix", "k8s") appears in errors.
type Named struct {
	Name     string
	Attestor Attestor
}

// Multi runs every member for each call and returns the union of their
// selectors, as SPIRE's agent runs every configured WorkloadAttestor
// plugin. Members run concurrently, so a slow one (the k8s attestor
// waiting for the kubelet) does not add to a fast one's time. Any member
// failing fails the call, naming the member, and cancels the others: a
// partial answer would quietly hide a broken attestor behind workloads
// that just "match nothing".
type Multi []Named

// Attest implements workloadapi.Attestor.
func (m Multi) Attest(ctx context.Context, p *procid.Process, uid, gid uint32) (selector.Set, error) {
	if len(m) == 1 {
		sels, err := m[0].Attestor.Attest(ctx, p, uid, gid)
		if err != nil {
			return nil, fmt.Errorf("workload attestor %q: %w", m[0].Name, err)
		}
		return sels, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		member int
		sels   selector.Set
		err    error
	}
	results := make(chan result, len(m))
	for i, n := range m {
		go func() {
			sels, err := n.Attestor.Attest(ctx, p, uid, gid)
			results <- result{member: i, sels: sels, err: err}
		}()
	}
	var (
		all      []selector.Selector
		firstErr error
	)
	// Wait for every member, also after a failure, so no attestation
	// outlives the call.
	for range m {
		r := <-results
		switch {
		case r.err != nil && firstErr == nil:
			firstErr = fmt.Errorf("workload attestor %q: %w", m[r.member].Name, r.err)
			cancel()
		case r.err == nil:
			all = append(all, r.sels...)
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return selector.NewSet(all...), nil
}
