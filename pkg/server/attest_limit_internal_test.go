package server

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

func fromIP(ip string) context.Context {
	return peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}})
}

// TestIPLimiter: each client IP has its own bucket; a caller over the
// limit waits, and gets ResourceExhausted when its deadline comes first.
func TestIPLimiter(t *testing.T) {
	l := newIPLimiter(rate.Every(time.Hour), 1)
	if err := l.wait(fromIP("192.0.2.1")); err != nil {
		t.Fatalf("first attestation of an IP: %v", err)
	}
	ctx, cancel := context.WithTimeout(fromIP("192.0.2.1"), 50*time.Millisecond)
	defer cancel()
	err := l.wait(ctx)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second attestation of the same IP within the hour: %v, want ResourceExhausted", err)
	}
	if err := l.wait(fromIP("192.0.2.2")); err != nil {
		t.Fatalf("another IP is limited separately: %v", err)
	}
	var none *ipLimiter
	if _, err := none.admit(context.Background()); err != nil {
		t.Fatalf("disabled limiter: %v", err)
	}
}

// TestIPLimiterForgetsIdleIPs: limiters of IPs that stopped attesting are
// dropped after two generations, so the map does not grow without bound.
func TestIPLimiterForgetsIdleIPs(t *testing.T) {
	l := newIPLimiter(rate.Every(time.Hour), 1)
	l.limiter("192.0.2.1")
	l.rotated = l.rotated.Add(-attestLimiterRetired)
	l.limiter("192.0.2.2") // rotates: .1 is now in the previous generation
	if _, ok := l.previous["192.0.2.1"]; !ok {
		t.Fatal("192.0.2.1 not kept in the previous generation")
	}
	same := l.limiter("192.0.2.1") // seen again: moved back, same bucket
	if l.current["192.0.2.1"] != same {
		t.Fatal("a returning IP must keep its bucket")
	}
	l.rotated = l.rotated.Add(-attestLimiterRetired)
	l.limiter("192.0.2.3")
	l.rotated = l.rotated.Add(-attestLimiterRetired)
	l.limiter("192.0.2.3")
	if len(l.current)+len(l.previous) != 1 {
		t.Fatalf("idle IPs kept: current %v, previous %v", l.current, l.previous)
	}
}

// TestPendingAttestationsCapped: one IP may have at most
// maxPendingAttestationsPerIP attestations pending; beyond, callers are
// refused with ResourceExhausted at once instead of queueing without
// bound. Released places are reused, other IPs are unaffected, and an IP
// with nothing pending leaves no trace.
func TestPendingAttestationsCapped(t *testing.T) {
	l := newIPLimiter(rate.Every(time.Hour), 1)
	var releases []func()
	for i := range maxPendingAttestationsPerIP {
		release, err := l.reserve("192.0.2.1")
		if err != nil {
			t.Fatalf("pending attestation %d: %v", i, err)
		}
		releases = append(releases, release)
	}
	_, err := l.reserve("192.0.2.1")
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "too many attestations pending") {
		t.Fatalf("attestation over the cap: %v, want ResourceExhausted naming the cap", err)
	}
	other, err := l.reserve("192.0.2.2")
	if err != nil {
		t.Fatalf("another IP has its own cap: %v", err)
	}
	other()
	releases[0]()
	releases[0]() // a second release must not free a second place
	again, err := l.reserve("192.0.2.1")
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if _, err := l.reserve("192.0.2.1"); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("double release freed two places: %v", err)
	}
	again()
	for _, r := range releases[1:] {
		r()
	}
	if len(l.pending) != 0 {
		t.Fatalf("pending counts left behind: %v", l.pending)
	}
}
