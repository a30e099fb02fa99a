package helper

import (
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
	"github.com/svidkit/svidkit/pkg/helper/svidfile"
)

// Write statuses, spiffe-helper's values in the health JSON.
const (
	statusUnwritten = "unwritten"
	statusFailed    = "failed"
	statusWritten   = "written"
)

// state is the current file set and what the health probes report. Every
// write of the set, and every repair, happens under mu, so a repair never
// puts back a set that a concurrent update just replaced.
type state struct {
	writer *svidfile.Writer
	notify func() // reloader.Notify; nil in one-shot mode

	mu         sync.Mutex
	x509       []svidfile.File
	x509Expiry time.Time
	jwt        map[string]svidfile.File // JWT-SVID files by name
	jwtBundle  *svidfile.File
	started    bool // the first complete set was handed to the reloader
	// unwritten holds the outputs (status keys) whose update failed to
	// write and is not on disk yet; retryLoop writes the set again until
	// it is empty.
	unwritten map[string]bool

	x509Enabled bool
	jwtNames    []string // configured JWT-SVID file names
	wantBundle  bool     // jwt_bundle_file_name is configured
	x509Status  string
	jwtStatus   map[string]string // by path, as spiffe-helper reports it
	certDir     string
}

func newState(cfg *helperconfig.Config) *state {
	s := &state{
		jwt:         make(map[string]svidfile.File),
		unwritten:   make(map[string]bool),
		x509Enabled: cfg.X509Enabled(),
		x509Status:  statusUnwritten,
		jwtStatus:   make(map[string]string),
		certDir:     cfg.CertDir,
	}
	for _, j := range cfg.JWTSVIDs {
		s.jwtStatus[s.path(j.FileName)] = statusUnwritten
		s.jwtNames = append(s.jwtNames, j.FileName)
	}
	if cfg.JWTBundleFileName != "" {
		s.wantBundle = true
		s.jwtStatus[s.path(cfg.JWTBundleFileName)] = statusUnwritten
	}
	return s
}

func (s *state) path(name string) string { return filepath.Join(s.certDir, name) }

// files returns the whole current set, sorted by directory and name.
// Called with mu held.
func (s *state) files() []svidfile.File {
	out := append([]svidfile.File(nil), s.x509...)
	for _, f := range s.jwt {
		out = append(out, f)
	}
	if s.jwtBundle != nil {
		out = append(out, *s.jwtBundle)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Dir != out[j].Dir {
			return out[i].Dir < out[j].Dir
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// complete reports whether every configured output has been received.
// Called with mu held.
func (s *state) complete() bool {
	if s.x509Enabled && s.x509 == nil || s.wantBundle && s.jwtBundle == nil {
		return false
	}
	for _, name := range s.jwtNames {
		if _, ok := s.jwt[name]; !ok {
			return false
		}
	}
	return true
}

// setStatus records the outcome of writing the output named key ("" is the
// X.509 set; otherwise a JWT file name). Called with mu held.
func (s *state) setStatus(key, status string) {
	if key == "" {
		s.x509Status = status
		return
	}
	s.jwtStatus[s.path(key)] = status
}

// live reports spiffe-helper's liveness: no write failed.
func (s *state) live() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.x509Enabled && s.x509Status == statusFailed {
		return false
	}
	for _, st := range s.jwtStatus {
		if st == statusFailed {
			return false
		}
	}
	return true
}

// ready reports spiffe-helper's readiness (every output written) and,
// beyond it, that the X.509-SVID on disk has not expired and that no
// update is still waiting to be written.
func (s *state) ready(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.unwritten) != 0 {
		return false
	}
	if s.x509Enabled && (s.x509Status != statusWritten || !now.Before(s.x509Expiry)) {
		return false
	}
	for _, st := range s.jwtStatus {
		if st != statusWritten {
			return false
		}
	}
	return true
}

// healthBody is spiffe-helper's health JSON.
type healthBody struct {
	Status string `json:"status"`
	Health struct {
		FileWriteStatuses struct {
			X509WriteStatus *string           `json:"x509_write_status,omitempty"`
			JWTWriteStatus  map[string]string `json:"jwt_write_status"`
		} `json:"file_write_statuses"`
	} `json:"health"`
}

// snapshot fills the statuses of a health body.
func (s *state) snapshot(b *healthBody) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.x509Enabled {
		st := s.x509Status
		b.Health.FileWriteStatuses.X509WriteStatus = &st
	}
	m := make(map[string]string, len(s.jwtStatus))
	for k, v := range s.jwtStatus {
		m[k] = v
	}
	b.Health.FileWriteStatuses.JWTWriteStatus = m
}
