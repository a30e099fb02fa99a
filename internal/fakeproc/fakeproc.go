// Package fakeproc builds fake /proc trees for tests of code that reads
// /proc/<pid> under a configurable root, such as the workload attestors,
// and opens procid handles on the fake processes in them.
package fakeproc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/svidkit/svidkit/pkg/procid"
)

// StartTime is the start time, in clock ticks after boot, of every fake
// process.
const StartTime = 4711

// Open returns a handle on the fake process <root>/<pid>, without a pidfd,
// closed when the test ends. It writes the process's stat file unless there
// is one; create the other files first, in particular the exe link, which
// the handle records.
func Open(tb testing.TB, root string, pid int32) *procid.Process {
	tb.Helper()
	dir := filepath.Join(root, strconv.Itoa(int(pid)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	switch _, err := os.Stat(filepath.Join(dir, "stat")); {
	case errors.Is(err, fs.ErrNotExist):
		WriteStat(tb, root, pid, StartTime)
	case err != nil:
		tb.Fatal(err)
	}
	p, err := procid.Open(root, pid, nil)
	if err != nil {
		tb.Fatalf("open fake process: %v", err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

// WriteStat writes <root>/<pid>/stat for a process that started at start
// clock ticks after boot. Writing another start time for a pid that Open
// was called for makes it look reused.
func WriteStat(tb testing.TB, root string, pid int32, start uint64) {
	tb.Helper()
	dir := filepath.Join(root, strconv.Itoa(int(pid)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	// pid (comm) state ppid ... with starttime as field 22.
	line := fmt.Sprintf("%d (fake app) S 1 %d %d 0 -1 4194304 100 0 0 0 1 1 0 0 20 0 1 0 %d 1000000 100\n",
		pid, pid, pid, start)
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(line), 0o644); err != nil {
		tb.Fatal(err)
	}
}
