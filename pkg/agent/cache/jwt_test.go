package cache_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/testclock"
	"github.com/svidkit/svidkit/pkg/agent/cache"
	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
)

// countingMinter issues numbered tokens valid for ttl from its clock.
type countingMinter struct {
	clk *testclock.Clock
	ttl time.Duration
	err error

	mu    sync.Mutex
	calls []string
}

func (m *countingMinter) MintJWTSVID(_ context.Context, entryID string, audience []string) (workloadapi.JWTSVID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return workloadapi.JWTSVID{}, m.err
	}
	m.calls = append(m.calls, fmt.Sprintf("%s%v", entryID, audience))
	return workloadapi.JWTSVID{
		SPIFFEID:  spiffeid.RequireFromPath(td, "/"+entryID),
		Token:     fmt.Sprintf("token-%d", len(m.calls)),
		ExpiresAt: m.clk.Now().Add(m.ttl),
	}, nil
}

func (m *countingMinter) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.calls)
}

func TestFetchJWTSVIDs(t *testing.T) {
	clk := newFakeClock()
	minter := &countingMinter{clk: clk, ttl: 10 * time.Minute}
	c := cache.New(cache.Config{Clock: clk, JWTMinter: minter})
	a := entry("a", "/a", "unix:uid:1")
	a.Hint = "internal"
	b := entry("b", "/b", "unix:uid:1")
	b.CreatedAt = a.CreatedAt.Add(time.Second)
	c.SetEntries([]cache.Entry{a, b, entry("other", "/other", "unix:uid:2")})
	ctx := context.Background()
	wl := sels("unix:uid:1")

	got, err := c.FetchJWTSVIDs(ctx, wl, []string{"aud2", "aud1"}, spiffeid.ID{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Token != "token-1" || got[1].Token != "token-2" || got[0].Hint != "internal" {
		t.Fatalf("first fetch = %+v", got)
	}
	if want := []string{"a[aud1 aud2]", "b[aud1 aud2]"}; !slices.Equal(minter.calls, want) {
		t.Fatalf("mint calls = %v, want %v (sorted audience)", minter.calls, want)
	}

	t.Run("reused with the audience in any order", func(t *testing.T) {
		got, err := c.FetchJWTSVIDs(ctx, wl, []string{"aud1", "aud2", "aud1"}, spiffeid.ID{})
		if err != nil {
			t.Fatal(err)
		}
		if minter.count() != 2 || got[0].Token != "token-1" {
			t.Fatalf("tokens were reminted: calls %d, token %q", minter.count(), got[0].Token)
		}
	})
	t.Run("filtered by SPIFFE ID", func(t *testing.T) {
		got, err := c.FetchJWTSVIDs(ctx, wl, []string{"aud1", "aud2"}, b.SPIFFEID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Token != "token-2" {
			t.Fatalf("filtered fetch = %+v", got)
		}
	})
	t.Run("other audience mints", func(t *testing.T) {
		if _, err := c.FetchJWTSVIDs(ctx, wl, []string{"aud3"}, a.SPIFFEID); err != nil {
			t.Fatal(err)
		}
		if minter.count() != 3 {
			t.Fatalf("mint calls = %d, want 3", minter.count())
		}
	})
	t.Run("refreshed at half lifetime", func(t *testing.T) {
		clk.Add(4 * time.Minute)
		got, _ := c.FetchJWTSVIDs(ctx, wl, []string{"aud1", "aud2"}, a.SPIFFEID)
		if got[0].Token != "token-1" {
			t.Fatalf("token before half lifetime = %q, want cached token-1", got[0].Token)
		}
		clk.Add(time.Minute)
		got, _ = c.FetchJWTSVIDs(ctx, wl, []string{"aud1", "aud2"}, a.SPIFFEID)
		if got[0].Token == "token-1" {
			t.Fatal("token at half lifetime was reused")
		}
	})
	t.Run("dropped when the entry is updated", func(t *testing.T) {
		before := minter.count()
		b2 := b
		b2.RevisionNumber = 2
		c.SetEntries([]cache.Entry{a, b2})
		if _, err := c.FetchJWTSVIDs(ctx, wl, []string{"aud1", "aud2"}, b.SPIFFEID); err != nil {
			t.Fatal(err)
		}
		if minter.count() != before+1 {
			t.Fatalf("mint calls = %d, want %d", minter.count(), before+1)
		}
	})
	t.Run("no match is empty", func(t *testing.T) {
		got, err := c.FetchJWTSVIDs(ctx, sels("unix:uid:9"), []string{"aud1"}, spiffeid.ID{})
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v, %v; want empty, nil", got, err)
		}
	})
}

func TestFetchJWTSVIDsErrors(t *testing.T) {
	clk := newFakeClock()
	failing := &countingMinter{clk: clk, err: errors.New("server down")}
	tests := []struct {
		name     string
		minter   cache.JWTMinter
		audience []string
	}{
		{name: "no audience", minter: failing, audience: nil},
		{name: "no minter", minter: nil, audience: []string{"a"}},
		{name: "minter fails", minter: failing, audience: []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cache.New(cache.Config{Clock: clk, JWTMinter: tt.minter})
			c.SetEntries([]cache.Entry{entry("a", "/a", "unix:uid:1")})
			if _, err := c.FetchJWTSVIDs(context.Background(), sels("unix:uid:1"), tt.audience, spiffeid.ID{}); err == nil {
				t.Fatal("FetchJWTSVIDs succeeded, want error")
			}
		})
	}
}

// TestJWTCacheEvictsLeastRecentlyUsed: the JWT-SVID cache keeps at most
// JWTSVIDCacheMaxSize tokens and drops the least recently used one beyond
// that, so unique audiences cannot grow it without bound (issue 10,
// finding 4). Each step fetches one audience; mint says whether the cache
// had to mint (a miss) rather than reuse.
func TestJWTCacheEvictsLeastRecentlyUsed(t *testing.T) {
	type step struct {
		aud  string
		mint bool
	}
	tests := []struct {
		name  string
		max   int
		steps []step
	}{
		{"within the size all are reused", 3, []step{
			{"a", true}, {"b", true}, {"c", true}, {"a", false}, {"b", false}, {"c", false}}},
		{"the oldest is dropped", 2, []step{
			{"a", true}, {"b", true}, {"c", true}, {"b", false}, {"c", false}, {"a", true}}},
		{"a use makes it recent", 2, []step{
			{"a", true}, {"b", true}, {"a", false}, {"c", true}, {"a", false}, {"b", true}}},
		{"size one", 1, []step{
			{"a", true}, {"a", false}, {"b", true}, {"a", true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			minter := &countingMinter{clk: clk, ttl: 10 * time.Minute}
			c := cache.New(cache.Config{Clock: clk, JWTMinter: minter, JWTSVIDCacheMaxSize: tt.max})
			c.SetEntries([]cache.Entry{entry("e", "/e", "unix:uid:1")})
			for i, s := range tt.steps {
				before := minter.count()
				if _, err := c.FetchJWTSVIDs(context.Background(), sels("unix:uid:1"), []string{s.aud}, spiffeid.ID{}); err != nil {
					t.Fatal(err)
				}
				if minted := minter.count() > before; minted != s.mint {
					t.Fatalf("step %d (%q): minted %v, want %v", i, s.aud, minted, s.mint)
				}
			}
		})
	}
	t.Run("default size", func(t *testing.T) {
		clk := newFakeClock()
		minter := &countingMinter{clk: clk, ttl: 10 * time.Minute}
		c := cache.New(cache.Config{Clock: clk, JWTMinter: minter})
		c.SetEntries([]cache.Entry{entry("e", "/e", "unix:uid:1")})
		fetch := func(aud string) {
			if _, err := c.FetchJWTSVIDs(context.Background(), sels("unix:uid:1"), []string{aud}, spiffeid.ID{}); err != nil {
				t.Fatal(err)
			}
		}
		for i := range cache.DefaultJWTSVIDCacheMaxSize + 1 {
			fetch(fmt.Sprint(i))
		}
		fetch("1") // still cached
		fetch("0") // dropped
		if got, want := minter.count(), cache.DefaultJWTSVIDCacheMaxSize+2; got != want {
			t.Fatalf("mint calls %d, want %d", got, want)
		}
	})
}

// TestFetchJWTSVIDsAudienceLimits: the cache refuses an audience beyond
// the Workload API's limits itself, whoever calls it.
func TestFetchJWTSVIDsAudienceLimits(t *testing.T) {
	clk := newFakeClock()
	minter := &countingMinter{clk: clk, ttl: 10 * time.Minute}
	c := cache.New(cache.Config{Clock: clk, JWTMinter: minter})
	c.SetEntries([]cache.Entry{entry("e", "/e", "unix:uid:1")})
	tests := []struct {
		name     string
		audience []string
		want     string
	}{
		{"too many values", make([]string, workloadapi.MaxAudiences+1), "limit of"},
		{"too long", []string{strings.Repeat("x", workloadapi.MaxAudienceLength+1)}, "limit of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.FetchJWTSVIDs(context.Background(), sels("unix:uid:1"), tt.audience, spiffeid.ID{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error naming the %s", err, tt.want)
			}
			if minter.count() != 0 {
				t.Fatal("minted a token for a refused audience")
			}
		})
	}
}
