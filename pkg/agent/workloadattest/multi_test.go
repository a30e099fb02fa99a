package workloadattest_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/agent/workloadattest"
	"github.com/svidkit/svidkit/pkg/procid"
	"github.com/svidkit/svidkit/pkg/selector"
)

// fixed returns the same selectors (or error) for every process.
type fixed struct {
	sels []string
	err  error
}

func (f fixed) Attest(context.Context, *procid.Process, uint32, uint32) (selector.Set, error) {
	if f.err != nil {
		return nil, f.err
	}
	var s []selector.Selector
	for _, v := range f.sels {
		sel, err := selector.Parse(v)
		if err != nil {
			return nil, err
		}
		s = append(s, sel)
	}
	return selector.NewSet(s...), nil
}

// blocking waits for its context to end, and reports that it did.
type blocking struct{ canceled chan struct{} }

func (b blocking) Attest(ctx context.Context, _ *procid.Process, _, _ uint32) (selector.Set, error) {
	<-ctx.Done()
	close(b.canceled)
	return nil, ctx.Err()
}

func TestMulti(t *testing.T) {
	tests := []struct {
		name    string
		multi   workloadattest.Multi
		want    []string
		wantErr string
	}{
		{
			name: "union of members",
			multi: workloadattest.Multi{
				{Name: "unix", Attestor: fixed{sels: []string{"unix:uid:1000", "unix:gid:1000"}}},
				{Name: "k8s", Attestor: fixed{sels: []string{"k8s:ns:payments", "k8s:sa:billing"}}},
			},
			want: []string{"k8s:ns:payments", "k8s:sa:billing", "unix:gid:1000", "unix:uid:1000"},
		},
		{
			name: "member with no selectors",
			multi: workloadattest.Multi{
				{Name: "unix", Attestor: fixed{sels: []string{"unix:uid:0"}}},
				{Name: "k8s", Attestor: fixed{}},
			},
			want: []string{"unix:uid:0"},
		},
		{
			name:  "no members",
			multi: workloadattest.Multi{},
		},
		{
			name: "failing member is named",
			multi: workloadattest.Multi{
				{Name: "unix", Attestor: fixed{sels: []string{"unix:uid:0"}}},
				{Name: "k8s", Attestor: fixed{err: errors.New("kubelet: connection refused")}},
			},
			wantErr: `workload attestor "k8s": kubelet: connection refused`,
		},
		{
			name:    "single failing member is named",
			multi:   workloadattest.Multi{{Name: "unix", Attestor: fixed{err: errors.New("pid 7: no such process")}}},
			wantErr: `workload attestor "unix": pid 7: no such process`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sels, err := tt.multi.Attest(context.Background(), nil, 1000, 1000)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Attest = %q, %v; want error %q", sels.Strings(), err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Attest: %v", err)
			}
			if got := sels.Strings(); !slices.Equal(got, tt.want) && len(got)+len(tt.want) > 0 {
				t.Errorf("Attest = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMultiFailureCancelsOthers(t *testing.T) {
	slow := blocking{canceled: make(chan struct{})}
	m := workloadattest.Multi{
		{Name: "k8s", Attestor: slow},
		{Name: "unix", Attestor: fixed{err: errors.New("boom")}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := m.Attest(ctx, nil, 0, 0)
	if err == nil || !strings.Contains(err.Error(), `"unix": boom`) {
		t.Fatalf("Attest error = %v, want the unix failure (not the canceled k8s one)", err)
	}
	select {
	case <-slow.canceled:
	default:
		t.Fatal("Attest returned before the other member finished")
	}
}
