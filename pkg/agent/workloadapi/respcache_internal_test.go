package workloadapi

import (
	"runtime"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"google.golang.org/protobuf/proto"
)

func TestRespCache(t *testing.T) {
	c := newRespCache()
	builds := 0
	build := func(*Update) (proto.Message, error) {
		builds++
		return &workload.X509SVIDResponse{}, nil
	}
	u := &Update{}
	first, err := c.get(kindX509SVID, u, build)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("same update is built once", func(t *testing.T) {
		again, _ := c.get(kindX509SVID, u, build)
		if again != first || builds != 1 {
			t.Errorf("builds = %d, same response = %v", builds, again == first)
		}
	})
	t.Run("kinds are separate", func(t *testing.T) {
		if _, err := c.get(kindJWTBundles, u, build); err != nil {
			t.Fatal(err)
		}
		if builds != 2 {
			t.Errorf("builds = %d, want 2", builds)
		}
	})
	t.Run("other update is built", func(t *testing.T) {
		other := &Update{}
		if _, err := c.get(kindX509SVID, other, build); err != nil {
			t.Fatal(err)
		}
		if builds != 3 {
			t.Errorf("builds = %d, want 3", builds)
		}
		runtime.KeepAlive(other)
	})
	t.Run("collected updates are forgotten", func(t *testing.T) {
		runtime.KeepAlive(u)
		u = nil
		deadline := time.Now().Add(5 * time.Second)
		for c.len() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d entries left after their updates were collected", c.len())
			}
			runtime.GC()
			runtime.Gosched()
		}
	})
}
