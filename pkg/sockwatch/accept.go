package sockwatch

import (
	"context"
	"net"
	"time"
)

// Bounds of waitAccepting.
const (
	acceptWait = 500 * time.Millisecond
	acceptPoll = 10 * time.Millisecond
)

// waitAccepting waits, for acceptWait at most, until the socket at path
// accepts connections. A server creates the file (bind) a moment before it
// listens; a reconnect in between would be refused and cost the client a
// whole backoff step. After acceptWait the change is reported anyway: the
// client's own retries take over.
func waitAccepting(ctx context.Context, path string) {
	ctx, cancel := context.WithTimeout(ctx, acceptWait)
	defer cancel()
	d := net.Dialer{Timeout: acceptPoll}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if c, err := d.DialContext(ctx, "unix", path); err == nil {
			_ = c.Close()
			return
		}
		t.Reset(acceptPoll)
	}
}
