package benchmetric

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// ProcStatusMiB reads a kB field of /proc/<pid>/status, such as "VmRSS:",
// "RssAnon:" or "VmHWM:", in MiB.
func ProcStatusMiB(t testing.TB, pid int, field string) float64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("benchmetric: read memory of pid %d: %v", pid, err)
	}
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == field && f[2] == "kB" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				t.Fatalf("benchmetric: parse %s of pid %d: %v", field, pid, err)
			}
			return kb / 1024
		}
	}
	t.Fatalf("benchmetric: no %s in /proc/%d/status", field, pid)
	return 0
}
