package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

var joinTokenTests = []test{
	{"SingleUse", testJoinTokenSingleUse},
	{"Duplicate", testJoinTokenDuplicate},
	{"Expired", testJoinTokenExpired},
	{"ConcurrentConsume", testJoinTokenConcurrent},
	{"Prune", testJoinTokenPrune},
	{"Invalid", testJoinTokenInvalid},
}

func testJoinTokenSingleUse(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	now := time.Now()
	exp := now.Add(time.Hour)
	must(t, "CreateJoinToken", s.CreateJoinToken(ctx, &datastore.JoinToken{Token: "tok", ExpiresAt: exp}))
	got, err := s.ConsumeJoinToken(ctx, "tok", now)
	must(t, "ConsumeJoinToken", err)
	if got.Token != "tok" || !got.ExpiresAt.Equal(exp) {
		t.Errorf("ConsumeJoinToken = %+v, want token tok expiring %v", got, exp)
	}
	_, err = s.ConsumeJoinToken(ctx, "tok", now)
	wantErr(t, "ConsumeJoinToken twice", err, datastore.ErrNotFound)
	_, err = s.ConsumeJoinToken(ctx, "never-created", now)
	wantErr(t, "ConsumeJoinToken unknown", err, datastore.ErrNotFound)
}

func testJoinTokenDuplicate(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	tok := &datastore.JoinToken{Token: "tok", ExpiresAt: time.Now().Add(time.Hour)}
	must(t, "CreateJoinToken", s.CreateJoinToken(ctx, tok))
	wantErr(t, "CreateJoinToken twice", s.CreateJoinToken(ctx, tok), datastore.ErrAlreadyExists)
}

func testJoinTokenExpired(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	exp := time.Unix(1_800_000_000, 0)
	must(t, "CreateJoinToken", s.CreateJoinToken(ctx, &datastore.JoinToken{Token: "tok", ExpiresAt: exp}))
	_, err := s.ConsumeJoinToken(ctx, "tok", exp.Add(time.Nanosecond))
	wantErr(t, "ConsumeJoinToken after expiry", err, datastore.ErrExpired)
	_, err = s.ConsumeJoinToken(ctx, "tok", exp.Add(-time.Hour))
	wantErr(t, "ConsumeJoinToken of a token deleted as expired", err, datastore.ErrNotFound)

	// Exactly at ExpiresAt the token is not yet "before now".
	must(t, "CreateJoinToken", s.CreateJoinToken(ctx, &datastore.JoinToken{Token: "edge", ExpiresAt: exp}))
	_, err = s.ConsumeJoinToken(ctx, "edge", exp)
	must(t, "ConsumeJoinToken at ExpiresAt", err)
}

func testJoinTokenConcurrent(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	now := time.Now()
	must(t, "CreateJoinToken", s.CreateJoinToken(ctx, &datastore.JoinToken{Token: "tok", ExpiresAt: now.Add(time.Hour)}))
	const n = 20
	start := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			<-start
			_, err := s.ConsumeJoinToken(ctx, "tok", now)
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	var ok, notFound int
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, datastore.ErrNotFound):
			notFound++
		default:
			t.Errorf("ConsumeJoinToken: unexpected error %v", err)
		}
	}
	if ok != 1 || notFound != n-1 {
		t.Errorf("%d successes and %d not-found, want 1 and %d", ok, notFound, n-1)
	}
}

func testJoinTokenPrune(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	base := time.Unix(1_800_000_000, 0)
	for tok, exp := range map[string]time.Time{
		"old":    base.Add(-time.Hour),
		"edge":   base,
		"future": base.Add(time.Hour),
	} {
		must(t, "CreateJoinToken", s.CreateJoinToken(ctx, &datastore.JoinToken{Token: tok, ExpiresAt: exp}))
	}
	must(t, "PruneJoinTokens", s.PruneJoinTokens(ctx, base))
	_, err := s.ConsumeJoinToken(ctx, "old", base.Add(-2*time.Hour))
	wantErr(t, "ConsumeJoinToken of pruned token", err, datastore.ErrNotFound)
	for _, tok := range []string{"edge", "future"} {
		_, err := s.ConsumeJoinToken(ctx, tok, base.Add(-2*time.Hour))
		must(t, "ConsumeJoinToken "+tok+" after prune", err)
	}
}

func testJoinTokenInvalid(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		tok  *datastore.JoinToken
	}{
		{"nil", nil},
		{"empty token", &datastore.JoinToken{ExpiresAt: time.Now()}},
		{"no expiry", &datastore.JoinToken{Token: "tok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.CreateJoinToken(ctx, tt.tok); err == nil {
				t.Fatal("CreateJoinToken succeeded, want a validation error")
			}
		})
	}
}
