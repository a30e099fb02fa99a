package testenv_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/svidkit/svidkit/internal/testenv"
)

func TestEntryServedWithDNSNamesHintAndTTL(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	env.Server.CreateEntry(t, testenv.Entry{
		Path:      "/db",
		Selectors: []string{testenv.UID(os.Getuid())},
		DNSNames:  []string{"db.local", "db"},
		Hint:      "db",
		X509TTL:   30 * time.Second,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// The agent serves the entry once its sync delivered it: retry until
	// then ("no identity issued"), within the deadline.
	svids, err := workloadapi.FetchX509SVIDs(ctx, workloadapi.WithAddr(env.Agent.Address()))
	for err != nil && ctx.Err() == nil {
		svids, err = workloadapi.FetchX509SVIDs(ctx, workloadapi.WithAddr(env.Agent.Address()))
	}
	if err != nil {
		t.Fatalf("FetchX509SVIDs: %v", err)
	}
	if len(svids) != 1 {
		t.Fatalf("got %d SVIDs, want 1", len(svids))
	}
	s := svids[0]
	cert := s.Certificates[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"SPIFFE ID", s.ID, env.ID("/db")},
		{"hint", s.Hint, "db"},
		{"common name (first DNS name)", cert.Subject.CommonName, "db.local"},
		{"DNS names", len(cert.DNSNames), 2},
		{"lifetime at most the entry's TTL", time.Until(cert.NotAfter) <= 30*time.Second, true},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Fatalf("got %v, want %v", c.got, c.want)
			}
		})
	}
}
