package profiling

import (
	"runtime"
	"slices"
)

// Go samples neither blocking nor mutex contention by default, so block
// and mutex profiles would be empty (as SPIRE's are). While they are
// written, these rates are on.
const (
	// blockProfileRate samples one blocking event per 100 µs spent blocked.
	blockProfileRate = 100_000
	// mutexProfileFraction samples one contention event in 100.
	mutexProfileFraction = 100
)

// enableSampling turns on the sampling the block and mutex profiles among
// names need, and returns the function that turns it off again.
func enableSampling(names []string) (restore func()) {
	block, mutex := slices.Contains(names, Block), slices.Contains(names, Mutex)
	if block {
		runtime.SetBlockProfileRate(blockProfileRate)
	}
	prevMutex := 0
	if mutex {
		prevMutex = runtime.SetMutexProfileFraction(mutexProfileFraction)
	}
	return func() {
		if block {
			runtime.SetBlockProfileRate(0)
		}
		if mutex {
			runtime.SetMutexProfileFraction(prevMutex)
		}
	}
}
