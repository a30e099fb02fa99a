package demo

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
)

// MarkerEnv is the environment variable every process the demo starts
// carries (and passes on to its own children), set to the run's marker:
// Leftovers finds them by it.
const MarkerEnv = "SVIDKIT_DEMO_RUN"

// Leftovers returns the pids of the running processes whose environment
// holds MarkerEnv=marker, other than this process and its ancestors (which
// carry the marker when a caller set it, as the test does). Processes of
// other users are not readable unless this process is root.
func Leftovers(marker string) []int {
	want := []byte(MarkerEnv + "=" + marker + "\x00")
	skip := ancestors()
	paths, _ := filepath.Glob("/proc/[0-9]*/environ")
	var pids []int
	for _, p := range paths {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil || skip[pid] {
			continue
		}
		env, err := os.ReadFile(p)
		if err != nil {
			continue // exited, or not ours to read
		}
		if bytes.HasPrefix(env, want) || bytes.Contains(env, append([]byte{0}, want...)) {
			if !zombie(pid) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// zombie reports whether pid has exited and waits to be reaped.
func zombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// ancestors returns this process and its ancestors.
func ancestors() map[int]bool {
	seen := map[int]bool{}
	for pid := os.Getpid(); pid > 1 && !seen[pid]; {
		seen[pid] = true
		status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			break
		}
		_, rest, ok := bytes.Cut(status, []byte("\nPPid:"))
		if !ok {
			break
		}
		line, _, _ := bytes.Cut(rest, []byte("\n"))
		if pid, err = strconv.Atoi(string(bytes.TrimSpace(line))); err != nil {
			break
		}
	}
	return seen
}
