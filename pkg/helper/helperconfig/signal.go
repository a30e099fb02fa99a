package helperconfig

import (
	"fmt"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ParseSignal returns the signal named s and its canonical name. It takes
// what spiffe-helper takes ("SIGHUP", "SIGUSR1", …, resolved by the same
// unix.SignalNum) and, more leniently, the name without "SIG" and in any
// case ("hup", "usr1"). SIGKILL and SIGSTOP are refused: no process can
// handle them.
func ParseSignal(s string) (syscall.Signal, string, error) {
	name := strings.ToUpper(strings.TrimSpace(s))
	if name == "" {
		return 0, "", fmt.Errorf("empty signal name")
	}
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	switch sig {
	case 0:
		return 0, "", fmt.Errorf("unknown signal %q (want a name such as \"SIGHUP\" or \"SIGUSR1\")", s)
	case unix.SIGKILL, unix.SIGSTOP:
		// spiffe-helper takes them, and the workload is killed or frozen
		// at its first renewal instead of reloading its certificates.
		return 0, "", fmt.Errorf("%s cannot be caught or ignored, so the workload would not reload; use a signal it handles, such as \"SIGHUP\" or \"SIGUSR1\"", unix.SignalName(sig))
	}
	return sig, unix.SignalName(sig), nil
}
