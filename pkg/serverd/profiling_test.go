package serverd_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/pprof/profile"

	"github.com/svidkit/svidkit/internal/freeport"
	"github.com/svidkit/svidkit/internal/profiletest"
	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
)

// TestProfiling runs the real server with profiling_enabled, a
// profiling_port, profiling_freq = 1 and profiling_names heap and
// goroutine: /debug/pprof/heap answers with a heap profile on 127.0.0.1
// and nothing listens on the port elsewhere, and the two profiles are
// written, 0600, under data_dir/profiles.
func TestProfiling(t *testing.T) {
	port := freeport.ForTest(t)
	var dataDir string
	testenv.StartServer(t, testenv.Options{ServerConfig: func(c *config.Server) {
		c.Profiling = config.Profiling{Enabled: true, Port: port, Freq: 1, Names: []string{"heap", "goroutine"}}
		dataDir = c.DataDir
	}})

	heap := profiletest.Fetch(t, port, "heap")
	if !slices.ContainsFunc(heap.SampleType, func(st *profile.ValueType) bool { return st.Type == "inuse_space" }) {
		t.Errorf("/debug/pprof/heap sample types %v, want inuse_space among them", heap.SampleType)
	}
	profiletest.LoopbackOnly(t, port)
	profiletest.Files(t, filepath.Join(dataDir, config.ProfilesDir), "server", "heap", "goroutine")
}
