package backoff_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/backoff"
)

func TestNext(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name     string
		min, max time.Duration
		want     []time.Duration
	}{
		{"doubles up to max", 100 * ms, 2 * time.Second, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 2 * time.Second, 2 * time.Second}},
		{"min equals max", time.Second, time.Second, []time.Duration{time.Second, time.Second}},
		{"min above max is returned once", 30 * time.Second, 10 * time.Second, []time.Duration{30 * time.Second, 10 * time.Second, 10 * time.Second}},
		{"zero stays zero", 0, time.Second, []time.Duration{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := backoff.New(tt.min, tt.max)
			for i, want := range tt.want {
				if got := b.Next(); got != want {
					t.Fatalf("Next() #%d = %v, want %v", i+1, got, want)
				}
			}
		})
	}
}

func TestReset(t *testing.T) {
	b := backoff.New(500*time.Millisecond, 15*time.Second)
	for range 5 {
		b.Next()
	}
	b.Reset()
	if got := b.Next(); got != 500*time.Millisecond {
		t.Fatalf("Next() after Reset = %v, want the minimum 500ms", got)
	}
	if got := b.Next(); got != time.Second {
		t.Fatalf("second Next() after Reset = %v, want 1s", got)
	}
}

// TestJittered checks that each jittered delay lies within a fifth below the
// unjittered one, and that the jitter varies.
func TestJittered(t *testing.T) {
	plain := backoff.New(time.Second, 10*time.Second)
	b := backoff.NewJittered(time.Second, 10*time.Second)
	seen := map[time.Duration]bool{}
	for i := range 200 {
		want := plain.Next()
		got := b.Next()
		if got > want || got < want-want/5 {
			t.Fatalf("Next() #%d = %v, want within [%v, %v]", i+1, got, want-want/5, want)
		}
		seen[got] = true
	}
	if len(seen) < 2 {
		t.Fatalf("200 jittered delays took %d distinct values, want varied delays", len(seen))
	}
}

func ExampleBackoff() {
	b := backoff.New(100*time.Millisecond, time.Second)
	for range 5 {
		fmt.Println(b.Next())
	}
	b.Reset()
	fmt.Println(b.Next())
	// Output:
	// 100ms
	// 200ms
	// 400ms
	// 800ms
	// 1s
	// 100ms
}
