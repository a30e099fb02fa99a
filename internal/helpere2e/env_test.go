package helpere2e_test

import (
	"os"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/testenv"
)

const trustDomain = "helper-e2e.test"

// startServer runs a testenv server of the helper-e2e trust domain.
func startServer(t testing.TB) *testenv.Server {
	t.Helper()
	return testenv.StartServer(t, testenv.Options{TrustDomain: trustDomain})
}

// workloadEntry is an entry for this process's uid under testenv.NodePath,
// with an X.509-SVID lifetime of ttlSeconds (0: the server's default).
func workloadEntry(path string, ttlSeconds int32) testenv.Entry {
	return testenv.Entry{
		Path:      path,
		Selectors: []string{testenv.UID(os.Getuid())},
		X509TTL:   time.Duration(ttlSeconds) * time.Second,
	}
}
