package e2e_test

import (
	"os"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/testenv"
)

const trustDomain = "e2e.test"

// startServer runs a testenv server of the e2e trust domain with opts.
func startServer(t testing.TB, opts testenv.Options) *testenv.Server {
	t.Helper()
	opts.TrustDomain = trustDomain
	return testenv.StartServer(t, opts)
}

// workloadEntry is an entry for this test process's uid under parentPath,
// with an X.509-SVID lifetime of ttlSeconds (0: the server's default).
func workloadEntry(parentPath, path string, ttlSeconds int32) testenv.Entry {
	return testenv.Entry{
		Path:       path,
		ParentPath: parentPath,
		Selectors:  []string{testenv.UID(os.Getuid())},
		X509TTL:    time.Duration(ttlSeconds) * time.Second,
	}
}
