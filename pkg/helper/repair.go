package helper

import (
	"context"
	"time"

	"github.com/fsnotify/fsnotify"
)

// repairSettle lets a burst of file events (our own writes, or someone
// editing several files) settle before the set is checked.
const repairSettle = 50 * time.Millisecond

// repairLoop rewrites the last set when files in cert_dir are deleted or
// modified behind the helper's back: at once on an fsnotify event, and every
// RepairInterval in case events are missed (or the directory cannot be
// watched). The application is notified after a repair.
func (h *Helper) repairLoop(ctx context.Context) error {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w, err := fsnotify.NewWatcher(); err != nil {
		h.log.Warn("cannot watch cert_dir; checking it periodically only", "cert_dir", h.cfg.CertDir, "error", err)
	} else {
		defer w.Close()
		if err := w.Add(h.cfg.CertDir); err != nil {
			h.log.Warn("cannot watch cert_dir; checking it periodically only", "cert_dir", h.cfg.CertDir, "error", err)
		} else {
			events, errs = w.Events, w.Errors
		}
	}
	tick := time.NewTicker(h.opts.RepairInterval)
	defer tick.Stop()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-events:
			settle.Reset(repairSettle)
		case err := <-errs:
			h.log.Warn("watching cert_dir failed", "cert_dir", h.cfg.CertDir, "error", err)
		case <-settle.C:
			h.repair()
		case <-tick.C:
			h.repair()
		}
	}
}

// repair rewrites the set if it is no longer intact on disk.
func (h *Helper) repair() {
	s := h.state
	s.mu.Lock()
	if !s.started && s.x509 == nil && len(s.jwt) == 0 && s.jwtBundle == nil {
		s.mu.Unlock()
		return
	}
	if len(s.unwritten) != 0 {
		// The writer's last set is older than the current one, which
		// retryLoop is writing: putting the old one back would undo the
		// newer update.
		s.mu.Unlock()
		return
	}
	repaired, err := s.writer.Repair()
	notify := repaired && s.notify != nil && s.started
	if notify {
		s.notify()
	}
	s.mu.Unlock()
	if err != nil {
		h.metrics.writeErrors.Inc()
		h.log.Error("repairing files in cert_dir failed", "cert_dir", h.cfg.CertDir, "error", err)
		return
	}
	if repaired {
		h.metrics.repairs.Inc()
		h.log.Warn("files in cert_dir were changed or deleted behind the helper's back; rewrote them", "cert_dir", h.cfg.CertDir, "notified", notify)
		now := time.Now()
		h.emit(Event{Kind: EventRepair, Output: "repair", Received: now, Done: now, Changed: true, Notified: notify})
	}
}
