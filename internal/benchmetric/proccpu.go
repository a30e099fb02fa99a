package benchmetric

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat: Linux reports
// them in USER_HZ, 100 per second on every architecture Go supports.
const userHZ = 100

// ProcCPU returns the CPU time (user plus system, all threads) process
// pid has used so far, from /proc/<pid>/stat, at 10 ms resolution. The
// difference of two readings is what a piece of work cost that process,
// a figure that, unlike throughput, does not depend on how busy the
// machine's other processes keep the CPUs.
func ProcCPU(t testing.TB, pid int) time.Duration {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("benchmetric: read CPU time of pid %d: %v", pid, err)
	}
	// The command name in parentheses may hold spaces; the fields that
	// follow it start with the state (field 3). utime and stime are
	// fields 14 and 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		t.Fatalf("benchmetric: malformed /proc/%d/stat", pid)
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 13 {
		t.Fatalf("benchmetric: short /proc/%d/stat", pid)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			t.Fatalf("benchmetric: parse CPU time of pid %d: %v", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ
}
