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
//
// A call takes its turn only once its first message has arrived (see
// AttestAgent): a stream that sends nothing holds no turn, so idle streams
// cannot push a real agent's attestation back. At most
// maxPendingAttestationsPerIP calls of one IP may wait or run at once;
// more are refused with ResourceExhausted (agents retry with backoff), so
// the queue of one IP, and the wait of the last in it, stays short.
const (
	attestPerIP          = 1
	attestLimiterRetired = 2 * time.Minute
	// maxPendingAttestationsPerIP bounds the attestations of one client
	// IP that are waiting for their turn or running. Sixteen keeps the
	// last one's wait at 16 s at one per second, well inside an agent's
	// 30 s attempt, while agents behind one NAT address retry the rest.
	maxPendingAttestationsPerIP = 16
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
	// pending counts the admitted, unreleased calls per IP; IPs with none
	// are removed, so it holds at most one key per running call.
	pending map[string]int
}

func newIPLimiter(limit rate.Limit, burst int) *ipLimiter {
	return &ipLimiter{
		limit: limit, burst: burst, rotated: time.Now(),
		current: make(map[string]*rate.Limiter), pending: make(map[string]int),
	}
}

// admit reserves one of the caller's IP's pending places and waits for its
// turn. It fails with ResourceExhausted when the IP has
// maxPendingAttestationsPerIP calls pending already, or when ctx ends
// before the turn comes. On success the caller must call release once the
// attestation is over.
func (l *ipLimiter) admit(ctx context.Context) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	ip := peerIP(ctx)
	release, err = l.reserve(ip)
	if err != nil {
		return nil, err
	}
	if err := l.wait(ctx); err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// reserve takes one of ip's pending places, or fails with
// ResourceExhausted when none is free. The returned release gives it back;
// calling it more than once has no further effect.
func (l *ipLimiter) reserve(ip string) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending[ip] >= maxPendingAttestationsPerIP {
		return nil, status.Errorf(codes.ResourceExhausted,
			"too many attestations pending from this client IP (at most %d at once); retry later", maxPendingAttestationsPerIP)
	}
	l.pending[ip]++
	return sync.OnceFunc(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.pending[ip]--; l.pending[ip] <= 0 {
			delete(l.pending, ip)
		}
	}), nil
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
