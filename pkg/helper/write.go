package helper

import (
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/svidkit/svidkit/pkg/helper/svidformat"
)

// writeX509 writes the X.509 files for svid together with the rest of the
// current set.
func (h *Helper) writeX509(svid *x509svid.SVID, x509Ctx *workloadapi.X509Context, received time.Time) error {
	leaf := svid.Certificates[0]
	ev := Event{Output: "x509", Received: received, SPIFFEID: svid.ID.String(), Serial: leaf.SerialNumber.Text(16)}
	files, err := svidformat.X509Files(svid, x509Ctx.Bundles, h.format)
	if err != nil {
		return h.failed(ev, "", fmt.Errorf("build X.509 files: %w", err))
	}
	err = h.commit(&ev, "", func(s *state) {
		s.x509, s.x509Expiry = files, leaf.NotAfter
	})
	if err == nil {
		h.metrics.svidExpiry.Set(float64(leaf.NotAfter.Unix()))
		h.log.Info("X.509-SVID written", "spiffe_id", ev.SPIFFEID, "serial", ev.Serial,
			"expiry", leaf.NotAfter.UTC().Format(time.RFC3339), "changed", ev.Changed, "notified", ev.Notified)
	}
	return err
}

// writeJWTSVID writes the JWT-SVID file name together with the rest of the
// current set.
func (h *Helper) writeJWTSVID(name string, svid *jwtsvid.SVID, received time.Time) error {
	ev := Event{Output: "jwt_svid", Received: received, SPIFFEID: svid.ID.String()}
	f := svidformat.JWTSVIDFile(name, svid.Marshal(), h.cfg.JWTSVIDFileMode)
	err := h.commit(&ev, name, func(s *state) { s.jwt[name] = f })
	if err == nil {
		h.log.Info("JWT-SVID written", "spiffe_id", ev.SPIFFEID, "audience", svid.Audience,
			"expiry", svid.Expiry.UTC().Format(time.RFC3339), "file", name, "changed", ev.Changed)
	}
	return err
}

// writeJWTBundles writes the JWT bundle file together with the rest of the
// current set.
func (h *Helper) writeJWTBundles(set *jwtbundle.Set, received time.Time) error {
	ev := Event{Output: "jwt_bundle", Received: received}
	name := h.cfg.JWTBundleFileName
	f, err := svidformat.JWTBundleFile(set, h.format)
	if err != nil {
		return h.failed(ev, name, fmt.Errorf("build JWT bundle file: %w", err))
	}
	err = h.commit(&ev, name, func(s *state) { s.jwtBundle = &f })
	if err == nil {
		h.log.Info("JWT bundles written", "trust_domains", set.Len(), "file", name, "changed", ev.Changed)
	}
	return err
}

// commit applies an update to the current set and writes the whole set.
// When files changed, or when the set becomes complete for the first time,
// the reloader is notified. key names the output for the health statuses.
// A nil apply writes the current set again if an earlier write of it
// failed (see retryLoop) and does nothing otherwise. A failed write is
// handed to retryLoop.
func (h *Helper) commit(ev *Event, key string, apply func(*state)) error {
	s := h.state
	s.mu.Lock()
	if apply == nil && len(s.unwritten) == 0 {
		s.mu.Unlock()
		return nil
	}
	if apply != nil {
		apply(s)
	}
	changed, err := s.writer.Write(s.files())
	if err != nil {
		if apply != nil {
			s.setStatus(key, statusFailed)
			s.unwritten[key] = true
		}
		s.mu.Unlock()
		select {
		case h.writeFailed <- struct{}{}:
		default: // a retry is already signalled
		}
		return h.failed(*ev, "", fmt.Errorf("write files to %q: %w", s.certDir, err))
	}
	if apply != nil {
		s.setStatus(key, statusWritten)
	}
	for k := range s.unwritten { // this write put them on disk too
		s.setStatus(k, statusWritten)
		delete(s.unwritten, k)
	}
	notify := s.notify != nil && s.complete() && (changed || !s.started)
	if notify {
		s.started = true
		s.notify()
	}
	s.mu.Unlock()

	now := time.Now()
	if changed {
		h.metrics.lastWrite.Set(float64(now.UnixNano()) / 1e9)
	}
	ev.Kind, ev.Done, ev.Changed, ev.Notified = EventWrite, now, changed, notify
	h.emit(*ev)
	return nil
}

// failed records a failed write of the output key (when not "") and
// returns err.
func (h *Helper) failed(ev Event, key string, err error) error {
	if key != "" || ev.Output == "x509" {
		h.state.mu.Lock()
		h.state.setStatus(key, statusFailed)
		h.state.mu.Unlock()
	}
	h.metrics.writeErrors.Inc()
	h.log.Error("writing files failed", "output", ev.Output, "spiffe_id", ev.SPIFFEID, "error", err)
	ev.Kind, ev.Done, ev.Err = EventWriteError, time.Now(), err
	h.emit(ev)
	return err
}

// pickX509 returns the SVID with the configured hint, or the first SVID
// when no hint is configured; nil when none matches.
func pickX509(svids []*x509svid.SVID, hint string) *x509svid.SVID {
	for _, s := range svids {
		if hint == "" || s.Hint == hint {
			return s
		}
	}
	return nil
}

// pickJWT is pickX509 for JWT-SVIDs.
func pickJWT(svids []*jwtsvid.SVID, hint string) *jwtsvid.SVID {
	for _, s := range svids {
		if hint == "" || s.Hint == hint {
			return s
		}
	}
	return nil
}
