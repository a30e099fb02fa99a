package taskrun_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/taskrun"
)

func waitCancel(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

func TestRun(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		tasks   []taskrun.Task
		wantErr string
	}{
		{
			name: "error cancels others",
			tasks: []taskrun.Task{
				{Name: "waiter", Run: waitCancel},
				{Name: "failer", Run: func(context.Context) error { return boom }},
			},
			wantErr: "failer: boom",
		},
		{
			name: "panic is recovered and cancels others",
			tasks: []taskrun.Task{
				{Name: "waiter", Run: waitCancel},
				{Name: "panicker", Run: func(context.Context) error { panic("oops") }},
			},
			wantErr: "panicker: panic: oops",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := taskrun.Run(ctx, tt.tasks...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run() = %v, want error containing %q", err, tt.wantErr)
			}
			if ctx.Err() != nil {
				t.Fatal("tasks were not cancelled by the failure; the test deadline ended them")
			}
		})
	}
}

func TestRunReturnsNilOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- taskrun.Run(ctx, taskrun.Task{Name: "a", Run: waitCancel}, taskrun.Task{Name: "b", Run: waitCancel})
	}()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run() = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
