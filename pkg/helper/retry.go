package helper

import (
	"context"
	"time"

	"github.com/svidkit/svidkit/pkg/backoff"
)

// Write retry schedule: a set that failed to write (ENOSPC, EIO, a
// read-only remount) is written again after 500ms, doubling up to 15s,
// until it succeeds. Writes are cheap and the set on disk may be about to
// expire, so the cap is short.
const (
	writeRetryMin = 500 * time.Millisecond
	writeRetryMax = 15 * time.Second
)

// retryLoop writes the current set again, with capped exponential backoff,
// after a write failed, until a write succeeds, without waiting for the
// next update from the Workload API (which may be an hour away while the
// certificate on disk expires). An update that arrives meanwhile replaces
// the set being retried: the state always holds the latest material, and a
// successful write of it ends the retries. It runs until ctx ends.
func (h *Helper) retryLoop(ctx context.Context) error {
	bo := backoff.New(writeRetryMin, writeRetryMax)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	waiting := false // timer is armed
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.writeFailed:
			if !waiting {
				timer.Reset(bo.Next())
				waiting = true
			}
		case <-timer.C:
			waiting = false
			if h.retryWrite() {
				bo.Reset()
				continue
			}
			timer.Reset(bo.Next())
			waiting = true
		}
	}
}

// retryWrite writes the current set if a write of it failed and reports
// whether nothing is left to retry.
func (h *Helper) retryWrite() bool {
	ev := Event{Output: "retry", Received: time.Now()}
	if err := h.commit(&ev, "", nil); err != nil {
		return false // logged and counted by commit
	}
	if ev.Kind == EventWrite {
		h.log.Info("files written on retry after a failed write", "cert_dir", h.cfg.CertDir, "changed", ev.Changed, "notified", ev.Notified)
	}
	return true
}
