package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/svidkit/svidkit/internal/testenv"
)

// TestJWTSVIDCacheMaxSize: the agent's jwt_svid_cache_max_size reaches its
// JWT-SVID cache. With a size of one, a second audience evicts the first
// one's token, so fetching the first audience again mints a new token
// (ES256 signatures are randomized, so even a token minted in the same
// second differs), while the cached one is reused before that.
func TestJWTSVIDCacheMaxSize(t *testing.T) {
	e := startServer(t, testenv.Options{})
	cfg := e.AgentConfig(t, "a", e.JoinToken(t, "/node"))
	cfg.JWTSVIDCacheMaxSize = 1
	ag := e.StartAgentWith(t, "a", cfg)
	e.CreateEntry(t, workloadEntry("/node", "/app", 0))
	c := ag.Client(t)
	watch(t, c).waitFor(t, 10*time.Second, "an SVID", func(x *workloadapi.X509Context) bool { return len(x.SVIDs) > 0 })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fetch := func(aud string) string {
		t.Helper()
		svid, err := c.FetchJWTSVID(ctx, jwtsvid.Params{Audience: aud})
		if err != nil {
			t.Fatalf("FetchJWTSVID(%q): %v", aud, err)
		}
		return svid.Marshal()
	}
	first := fetch("a")
	if again := fetch("a"); again != first {
		t.Fatal("the cached token for audience a was not reused")
	}
	fetch("b")
	if fetch("a") == first {
		t.Fatal("the token for audience a was reused after audience b filled the cache of size 1")
	}
}
