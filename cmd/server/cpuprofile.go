//go:build svidkit_cpuprofile

package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// cpuProfileEnv names the file a server built with -tags
// svidkit_cpuprofile writes its CPU profile to, from start to exit. The
// shipped binary is built without the tag and has no such switch; the
// out-of-process benchmarks (internal/e2e) use it to profile the real
// daemon under load. A shipped server profiles through its configuration
// instead (profiling_enabled and profiling_port: package profiling); a CPU
// profile is one per process, so the two exclude each other.
const cpuProfileEnv = "SVIDKIT_CPUPROFILE"

// startCPUProfile starts profiling to $SVIDKIT_CPUPROFILE when it is set
// and returns the function that stops and writes the profile.
func startCPUProfile() (stop func(), err error) {
	path := os.Getenv(cpuProfileEnv)
	if path == "" {
		return func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cpuProfileEnv, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: start CPU profile: %w", cpuProfileEnv, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
