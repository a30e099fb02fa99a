package loadgen_test

import (
	"os"
	"testing"

	"github.com/svidkit/svidkit/internal/loadgen"
)

// TestMain lets Run re-execute the test binary as its prober process.
func TestMain(m *testing.M) {
	loadgen.MaybeRunProber()
	os.Exit(m.Run())
}
