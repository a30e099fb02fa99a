package loadgen

import (
	"fmt"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// startPinned starts cmd with its CPU affinity set to cpus (all CPUs when
// empty). A child inherits the affinity of the thread that forks it, so
// this thread is pinned for the fork and set back afterwards: every thread
// the child ever has is pinned, which setting the affinity of its pid
// after the start would not do for threads already started. The thread is
// kept (not ended) so that the child's Pdeathsig, tied to it, holds.
func startPinned(cmd *exec.Cmd, cpus []int) error {
	if len(cpus) == 0 {
		return cmd.Start()
	}
	var set unix.CPUSet
	for _, c := range cpus {
		if c < 0 {
			return fmt.Errorf("cpu %d: must not be negative", c)
		}
		set.Set(c)
	}
	runtime.LockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("read cpu affinity: %w", err)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("pin to cpus %v: %w", cpus, err)
	}
	startErr := cmd.Start()
	if err := unix.SchedSetaffinity(0, &old); err != nil {
		// This thread stays pinned: it must not run other goroutines, so it
		// stays locked, and ends with its goroutine; so does the child (its
		// Pdeathsig), which the error stops anyway.
		if startErr == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		return fmt.Errorf("restore cpu affinity: %w", err)
	}
	runtime.UnlockOSThread()
	return startErr
}
