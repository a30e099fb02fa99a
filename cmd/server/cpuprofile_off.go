//go:build !svidkit_cpuprofile

package main

// startCPUProfile does nothing in the shipped binary: only a build with
// -tags svidkit_cpuprofile (cpuprofile.go) can write a CPU profile.
func startCPUProfile() (stop func(), err error) { return func() {}, nil }
