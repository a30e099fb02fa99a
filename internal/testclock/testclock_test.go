package testclock_test

import (
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/testclock"
)

func TestClock(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	c := testclock.New(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now = %v, want %v", got, start)
	}
	c.Add(90 * time.Second)
	if got, want := c.Now(), start.Add(90*time.Second); !got.Equal(want) {
		t.Fatalf("after Add: Now = %v, want %v", got, want)
	}
	c.Set(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("after Set: Now = %v, want %v", got, start)
	}
}
