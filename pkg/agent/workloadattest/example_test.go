package workloadattest_test

import (
	"context"
	"fmt"

	"github.com/svidkit/svidkit/pkg/agent/workloadattest"
	"github.com/svidkit/svidkit/pkg/procid"
	"github.com/svidkit/svidkit/pkg/selector"
)

// static is an attestor that describes every process the same way.
type static []selector.Selector

func (s static) Attest(context.Context, *procid.Process, uint32, uint32) (selector.Set, error) {
	return selector.NewSet(s...), nil
}

func ExampleMulti() {
	// The agent composes unix.New(...) and k8s.New(...) the same way.
	att := workloadattest.Multi{
		{Name: "unix", Attestor: static{{Type: "unix", Value: "uid:1000"}}},
		{Name: "k8s", Attestor: static{{Type: "k8s", Value: "ns:payments"}, {Type: "k8s", Value: "sa:billing"}}},
	}
	// The Workload API passes the caller's process (peercred.Info.Process);
	// these static members do not look at it.
	sels, err := att.Attest(context.Background(), nil, 1000, 1000)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range sels {
		fmt.Println(s)
	}
	// Output:
	// k8s:ns:payments
	// k8s:sa:billing
	// unix:uid:1000
}
