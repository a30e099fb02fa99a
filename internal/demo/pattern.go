package demo

import (
	"crypto/x509"
	"fmt"
	"sync"
	"time"
)

// Pattern indexes of the status lines.
const (
	lineWorkload = iota
	lineHelper
	lineSDS
	patterns
)

// serials records the distinct certificate serials a pattern has seen, in
// order: every serial after the first is a rotation.
type serials struct {
	mu   sync.Mutex
	list []string
	seen map[string]bool
}

// add records cert's serial and reports whether it is new.
func (s *serials) add(cert *x509.Certificate) bool {
	serial := serialHex(cert)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if s.seen[serial] {
		return false
	}
	s.seen[serial] = true
	s.list = append(s.list, serial)
	return true
}

// rotations is the number of serials seen after the first.
func (s *serials) rotations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(len(s.list)-1, 0)
}

// snapshot returns a copy of the serials seen.
func (s *serials) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.list...)
}

// serialHex is cert's serial number in hex.
func serialHex(cert *x509.Certificate) string { return fmt.Sprintf("%x", cert.SerialNumber) }

// short abbreviates a hex serial for the status line.
func short(serial string) string {
	if len(serial) > 12 {
		return serial[:12] + "…"
	}
	return serial
}

// statusLine is a pattern's status line: what it is, then the rotations it
// saw and the current certificate's serial and expiry.
func statusLine(what string, cert *x509.Certificate, s *serials) string {
	return fmt.Sprintf("%-46s rotations %d  serial %s  until %s", what,
		s.rotations(), short(serialHex(cert)), cert.NotAfter.Local().Format(time.TimeOnly))
}
