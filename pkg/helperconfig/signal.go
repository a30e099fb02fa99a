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
// case ("hup", "usr1").
func ParseSignal(s string) (syscall.Signal, string, error) {
	name := strings.ToUpper(strings.TrimSpace(s))
	if name == "" {
		return 0, "", fmt.Errorf("empty signal name")
	}
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, "", fmt.Errorf("unknown signal %q (want a name such as \"SIGHUP\" or \"SIGUSR1\")", s)
	}
	return sig, unix.SignalName(sig), nil
}
