package server

import (
	"context"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Attestation rate limit per client IP, SPIRE's default (ratelimit {
// attestation = true }): one AttestAgent per second, no burst. Each
// attestation may cost the server calls to other systems (a TokenReview
// for k8s_psat), so anyone who can reach the port must not be able to
// turn it into a flood of them, or use up the kube client's own rate limit
// that real agents share. Calls over the limit wait their turn, as in
// SPIRE, rather than fail.
const (
	attestPerIP          = 1
	attestLimiterRetired = 2 * time.Minute
)

// ipLimiter hands out one token-bucket limiter per client IP. Limiters of
// IPs not seen for a while are dropped: limiters move from the current
// generation to the previous one every attestLimiterRetired, and the
// previous generation is then discarded.
type ipLimiter struct {
	limit rate.Limit
	burst int

	mu       sync.Mutex
	current  map[string]*rate.Limiter
	previous map[string]*rate.Limiter
	rotated  time.Time
}

func newIPLimiter(limit rate.Limit, burst int) *ipLimiter {
	return &ipLimiter{limit: limit, burst: burst, current: make(map[string]*rate.Limiter), rotated: time.Now()}
}

// limiter returns the limiter of ip.
func (l *ipLimiter) limiter(ip string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); now.Sub(l.rotated) >= attestLimiterRetired {
		l.previous, l.current, l.rotated = l.current, make(map[string]*rate.Limiter), now
	}
	if lim, ok := l.current[ip]; ok {
		return lim
	}
	lim, ok := l.previous[ip]
	if ok {
		delete(l.previous, ip)
	} else {
		lim = rate.NewLimiter(l.limit, l.burst)
	}
	l.current[ip] = lim
	return lim
}

// wait blocks until the caller's IP may attest again, or fails with
// ResourceExhausted when ctx ends first.
func (l *ipLimiter) wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	if err := l.limiter(peerIP(ctx)).Wait(ctx); err != nil {
		return status.Errorf(codes.ResourceExhausted, "attestation rate limit (%v per second per client IP): %v", l.limit, err)
	}
	return nil
}

// peerIP returns the IP address of the gRPC peer, or its whole address
// when it has no IP (a Unix socket).
func peerIP(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	if tcp, ok := p.Addr.(*net.TCPAddr); ok {
		return tcp.IP.String()
	}
	host, _, err := net.SplitHostPort(p.Addr.String())
	if err != nil {
		return p.Addr.String()
	}
	return host
}
