package svidfile

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// applyUmask returns files with umask cleared from each mode. A mode the
// umask clears entirely is an error: nobody could read the file.
func applyUmask(files []File, umask os.FileMode) ([]File, error) {
	if umask == 0 {
		return files, nil
	}
	out := make([]File, len(files))
	for i, f := range files {
		f.Mode &^= umask
		if f.Mode == 0 {
			return nil, fmt.Errorf("svidfile: file %q: mode %#o under umask %#o leaves no permission", f.path(), files[i].Mode, umask)
		}
		out[i] = f
	}
	return out, nil
}

// ProcessUmask returns the process's file mode creation mask, which
// spiffe-helper's file modes are subject to. On Linux 4.7 and later it
// reads the "Umask:" line of /proc/self/status and leaves the mask alone.
// Elsewhere it has to set the mask and put it back: the mask is
// process-wide, so for that instant files created by other goroutines get
// the restrictive 077. Call it once, at startup.
func ProcessUmask() os.FileMode {
	if m, err := umaskFromProc(); err == nil {
		return m
	}
	old := unix.Umask(0o077)
	unix.Umask(old)
	return os.FileMode(old) & 0o777
}

// umaskFromProc reads the umask from /proc/self/status.
func umaskFromProc() (os.FileMode, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "Umask:")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
		if err != nil {
			return 0, fmt.Errorf("/proc/self/status: Umask %q: %w", v, err)
		}
		return os.FileMode(n) & 0o777, nil
	}
	return 0, fmt.Errorf("/proc/self/status: no Umask line")
}
