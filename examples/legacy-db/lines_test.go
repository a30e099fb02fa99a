package legacydb_test

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// line is one line of a process's output and when it arrived.
type line struct {
	text string
	at   time.Time
}

// lineLog collects a process's output lines: tests wait for lines with a
// deadline, and the whole log is printed when the test fails.
type lineLog struct {
	name string
	mu   sync.Mutex
	buf  []byte
	all  []line
	ch   chan line
}

func newLineLog(t *testing.T, name string) *lineLog {
	l := &lineLog{name: name, ch: make(chan line, 4096)}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("LEGACYDB_LOG") != "" {
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, ln := range l.all {
				t.Logf("%s: %s", l.name, ln.text)
			}
		}
	})
	return l
}

// Write implements io.Writer for exec.Cmd's Stdout and Stderr.
func (l *lineLog) Write(p []byte) (int, error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		ln := line{text: string(l.buf[:i]), at: now}
		l.buf = l.buf[i+1:]
		l.all = append(l.all, ln)
		select {
		case l.ch <- ln:
		default: // nobody is waiting for lines this old
		}
	}
}

var _ io.Writer = (*lineLog)(nil)

// wait returns the next line containing every one of subs, failing the
// test after timeout.
func (l *lineLog) wait(t *testing.T, timeout time.Duration, subs ...string) line {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ln := <-l.ch:
			if containsAll(ln.text, subs) {
				return ln
			}
		case <-deadline:
			t.Fatalf("%s: no line containing %q within %s", l.name, subs, timeout)
			return line{}
		}
	}
}

// count returns how many lines so far contain every one of subs.
func (l *lineLog) count(subs ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ln := range l.all {
		if containsAll(ln.text, subs) {
			n++
		}
	}
	return n
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
