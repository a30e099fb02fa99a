package e2e_test

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// logLines records a daemon's log lines as they are written, so that a
// test can wait for one.
type logLines struct {
	mu      sync.Mutex
	lines   []logLine
	changed chan struct{} // closed and replaced on every line
}

func newLogLines() *logLines { return &logLines{changed: make(chan struct{})} }

// logLine is one recorded line and when it was written.
type logLine struct {
	at   time.Time
	text string
}

// logger returns a debug-level logger writing into l (and to stderr when
// TESTENV_LOG is set, prefixed with name).
func (l *logLines) logger(name string) *slog.Logger {
	w := io.Writer(l)
	if os.Getenv("TESTENV_LOG") != "" {
		w = io.MultiWriter(l, prefixWriter{name, os.Stderr})
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Write records one line (slog writes each record at once).
func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, logLine{at: time.Now(), text: string(p)})
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

// len is the number of lines recorded so far.
func (l *logLines) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// wait waits for the n-th line at index from or later that contains every
// one of parts and returns it and the index after it.
func (l *logLines) wait(t testing.TB, timeout time.Duration, from, n int, parts ...string) (logLine, int) {
	t.Helper()
	deadline := time.After(timeout)
	seen := 0
	for {
		l.mu.Lock()
		lines, changed := l.lines, l.changed
		l.mu.Unlock()
		for ; from < len(lines); from++ {
			if containsAll(lines[from].text, parts) {
				if seen++; seen == n {
					return lines[from], from + 1
				}
			}
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("timed out after %v waiting for log line %d with %q", timeout, n, parts)
			return logLine{}, from
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// prefixWriter writes to w with a prefix, for TESTENV_LOG.
type prefixWriter struct {
	prefix string
	w      io.Writer
}

func (p prefixWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, p.prefix+": "+string(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}
