package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

var attestTests = []test{
	{"SpendsTokenAndCreates", testAttestSpendsToken},
	{"RefusedLeavesTokenAndAgent", testAttestRefused},
	{"CancelledCallerRollsBack", testAttestCancelledCaller},
	{"ReplacesUnlessBanned", testAttestReplaces},
}

// attestToken is the join token of the attestation tests' agent.
const attestToken = "attest-tok"

var attestAgentID = "spiffe://td/spire/agent/join_token/" + attestToken

// tokenLeft reports whether the join token can still be consumed (and
// consumes it).
func tokenLeft(t *testing.T, s datastore.Store, token string) bool {
	t.Helper()
	_, err := s.ConsumeJoinToken(t.Context(), token, time.Unix(0, 0))
	switch {
	case err == nil:
		return true
	case errors.Is(err, datastore.ErrNotFound):
		return false
	}
	t.Fatalf("ConsumeJoinToken: %v", err)
	return false
}

// testAttestSpendsToken: the token is spent and the agent created
// together; the token then attests no one else.
func testAttestSpendsToken(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	now := time.Now()
	must(t, "CreateJoinToken", s.CreateJoinToken(ctx, &datastore.JoinToken{Token: attestToken, ExpiresAt: now.Add(time.Hour)}))
	in := newAgent(t, attestAgentID)
	got, err := s.AttestAgent(ctx, in, attestToken, now)
	must(t, "AttestAgent", err)
	stored, err := s.GetAgent(ctx, attestAgentID)
	must(t, "GetAgent", err)
	if d := agentDiff(stored, got); d != "" {
		t.Errorf("stored agent differs from AttestAgent's result:%s", d)
	}
	if got.CreatedAt.IsZero() || !got.CreatedAt.Equal(got.UpdatedAt) {
		t.Errorf("created agent: CreatedAt %v, UpdatedAt %v; want both set and equal", got.CreatedAt, got.UpdatedAt)
	}
	_, err = s.AttestAgent(ctx, newAgent(t, attestAgentID), attestToken, now)
	wantErr(t, "AttestAgent with the spent token", err, datastore.ErrNotFound)
	if tokenLeft(t, s, attestToken) {
		t.Error("token still there after AttestAgent spent it")
	}
}

// testAttestRefused: a refused attestation (token unknown or expired,
// agent banned) writes nothing: the agent is not created or changed and
// the token is not spent.
func testAttestRefused(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	now := time.Now()
	banned := newAgent(t, "spiffe://td/spire/agent/join_token/banned")
	banned.Banned = true
	_, err := s.CreateAgent(ctx, banned)
	must(t, "CreateAgent", err)
	tests := []struct {
		name    string
		token   string
		expires time.Time // of the created token; zero: none created
		agentID string
		want    error
	}{
		{name: "unknown token", token: "never-created", agentID: "spiffe://td/spire/agent/join_token/never-created", want: datastore.ErrNotFound},
		{name: "expired token", token: "old", expires: now.Add(-time.Second), agentID: "spiffe://td/spire/agent/join_token/old", want: datastore.ErrExpired},
		{name: "banned agent", token: "banned", expires: now.Add(time.Hour), agentID: banned.SPIFFEID, want: datastore.ErrBanned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.expires.IsZero() {
				must(t, "CreateJoinToken", s.CreateJoinToken(ctx, &datastore.JoinToken{Token: tt.token, ExpiresAt: tt.expires}))
			}
			in := newAgent(t, tt.agentID)
			in.SerialNumber = "999"
			_, err := s.AttestAgent(ctx, in, tt.token, now)
			wantErr(t, "AttestAgent", err, tt.want)
			got, err := s.GetAgent(ctx, tt.agentID)
			switch {
			case tt.agentID == banned.SPIFFEID:
				must(t, "GetAgent", err)
				if got.SerialNumber != banned.SerialNumber || !got.Banned {
					t.Errorf("banned agent changed by a refused attestation: %+v", got)
				}
			case !errors.Is(err, datastore.ErrNotFound):
				t.Errorf("GetAgent after a refused attestation = %+v, %v; want not found", got, err)
			}
			if !tt.expires.IsZero() && !tokenLeft(t, s, tt.token) {
				t.Error("a refused attestation spent the token")
			}
		})
	}
}

// testAttestCancelledCaller: when the caller's context is done, nothing
// is committed: the token stays for the caller's retry.
func testAttestCancelledCaller(t *testing.T, s datastore.Store) {
	now := time.Now()
	must(t, "CreateJoinToken", s.CreateJoinToken(t.Context(), &datastore.JoinToken{Token: attestToken, ExpiresAt: now.Add(time.Hour)}))
	for _, c := range []struct {
		name string
		ctx  func() context.Context
	}{
		{"cancelled", func() context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		}},
		{"deadline passed", func() context.Context {
			ctx, cancel := context.WithDeadline(t.Context(), now.Add(-time.Second))
			t.Cleanup(cancel)
			return ctx
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.AttestAgent(c.ctx(), newAgent(t, attestAgentID), attestToken, now)
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("AttestAgent for a caller gone: error = %v, want the context's error", err)
			}
			if got, err := s.GetAgent(t.Context(), attestAgentID); !errors.Is(err, datastore.ErrNotFound) {
				t.Fatalf("agent stored for a caller gone: %+v, %v", got, err)
			}
		})
	}
	_, err := s.AttestAgent(t.Context(), newAgent(t, attestAgentID), attestToken, now)
	must(t, "AttestAgent retried after the caller's earlier attempts were abandoned", err)
}

// testAttestReplaces: attesting an agent that exists replaces its serial,
// expiry and selectors, keeping CreatedAt; without a token (an attestor
// such as k8s_psat) no token is involved.
func testAttestReplaces(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	id := "spiffe://td/spire/agent/k8s_psat/c/node-1"
	first := newAgent(t, id)
	first.AttestationType = "k8s_psat"
	created, err := s.AttestAgent(ctx, first, "", time.Now())
	must(t, "AttestAgent (create)", err)
	second := *first
	second.SerialNumber = "2"
	second.Selectors = sel(t, "k8s_psat:cluster:c")
	second.ExpiresAt = first.ExpiresAt.Add(time.Hour)
	replaced, err := s.AttestAgent(ctx, &second, "", time.Now())
	must(t, "AttestAgent (replace)", err)
	if !replaced.CreatedAt.Equal(created.CreatedAt) {
		t.Errorf("CreatedAt = %v, want the first attestation's %v", replaced.CreatedAt, created.CreatedAt)
	}
	got, err := s.GetAgent(ctx, id)
	must(t, "GetAgent", err)
	if d := agentDiff(got, replaced); d != "" {
		t.Errorf("stored agent after re-attestation:%s", d)
	}
	if got.SerialNumber != "2" || len(got.Selectors) != 1 {
		t.Errorf("re-attestation not applied: %+v", got)
	}
	// Banned since: refused, and the ban stands.
	got.Banned = true
	_, err = s.UpdateAgent(ctx, got)
	must(t, "UpdateAgent (ban)", err)
	third := second
	third.SerialNumber = "3"
	_, err = s.AttestAgent(ctx, &third, "", time.Now())
	wantErr(t, "AttestAgent of a banned agent", err, datastore.ErrBanned)
	got, err = s.GetAgent(ctx, id)
	must(t, "GetAgent", err)
	if !got.Banned || got.SerialNumber != "2" {
		t.Errorf("refused re-attestation changed the banned agent: %+v", got)
	}
}

// testConcurrentAttestJoinToken: attestations racing one join token
// through two servers admit exactly one agent; the others find the token
// spent.
func testConcurrentAttestJoinToken(t *testing.T, a, b datastore.Store) {
	ctx := t.Context()
	now := time.Now()
	const tokens, n = 10, 6
	for k := range tokens {
		tok := fmt.Sprintf("race-%d", k)
		must(t, "CreateJoinToken", a.CreateJoinToken(ctx, &datastore.JoinToken{Token: tok, ExpiresAt: now.Add(time.Hour)}))
		var ok int
		for i, err := range race(a, b, n, func(i int, s datastore.Store) error {
			in := newAgent(t, "spiffe://td/spire/agent/join_token/"+tok)
			in.SerialNumber = fmt.Sprint(i)
			_, err := s.AttestAgent(ctx, in, tok, now)
			return err
		}) {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, datastore.ErrNotFound):
				t.Errorf("token %d: attestation %d: unexpected error %v", k, i, err)
			}
		}
		if ok != 1 {
			t.Errorf("token %d admitted %d of %d racing attestations, want one", k, ok, n)
		}
	}
}
