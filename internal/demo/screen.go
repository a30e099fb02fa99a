package demo

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
)

// screen shows the demo's steps as lines that scroll and one status line
// per pattern below them. On a terminal the status lines are redrawn in
// place (ANSI cursor movement); otherwise each change is appended as a
// plain line, which is what tests and logs read.
type screen struct {
	mu       sync.Mutex
	out      io.Writer
	terminal bool
	width    int      // terminal columns; longer status lines are cut
	status   []string // one per pattern
	drawn    int      // status lines currently on the terminal
}

func newScreen(out io.Writer, terminal bool, width, patterns int) *screen {
	return &screen{out: out, terminal: terminal, width: width, status: make([]string, patterns)}
}

// step prints one line about what the demo does.
func (s *screen) step(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.erase()
	fmt.Fprintf(s.out, "demo: "+format+"\n", args...)
	s.draw()
}

// set changes pattern i's status line (0-based).
func (s *screen) set(i int, line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status[i] == line {
		return
	}
	s.status[i] = line
	if !s.terminal {
		fmt.Fprintln(s.out, line)
		return
	}
	s.erase()
	s.draw()
}

// erase moves the cursor up over the drawn status lines and clears them.
func (s *screen) erase() {
	if !s.terminal || s.drawn == 0 {
		return
	}
	fmt.Fprintf(s.out, "\x1b[%dA\x1b[J", s.drawn)
	s.drawn = 0
}

// draw writes the status lines (terminal only).
func (s *screen) draw() {
	if !s.terminal {
		return
	}
	var b strings.Builder
	for _, l := range s.status {
		if l == "" {
			continue
		}
		b.WriteString("\x1b[2K")
		b.WriteString(s.fit(l))
		b.WriteByte('\n')
		s.drawn++
	}
	io.WriteString(s.out, b.String())
}

// fit cuts l to the terminal's width: a wrapped line would take two rows
// and the cursor movement that redraws the status lines counts one.
func (s *screen) fit(l string) string {
	if s.width <= 1 || utf8.RuneCountInString(l) < s.width {
		return l
	}
	r := []rune(l)
	return string(r[:s.width-2]) + "…"
}
