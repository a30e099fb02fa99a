package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

var agentTests = []test{
	{"ManySelectors", testAgentManySelectors},
	{"CreateGetRoundTrip", testAgentRoundTrip},
	{"CreateDuplicate", testAgentDuplicate},
	{"UpdateBanAndSerials", testAgentUpdate},
	{"ReattestUnlessBanned", testAgentReattest},
	{"List", testAgentList},
	{"Delete", testAgentDelete},
	{"NotFound", testAgentNotFound},
}

// agentDiff describes how got differs from want ("" when equal), comparing
// times with Equal.
func agentDiff(got, want *datastore.Agent) string {
	same := got.SPIFFEID == want.SPIFFEID &&
		got.AttestationType == want.AttestationType &&
		slices.Equal(got.Selectors, want.Selectors) &&
		got.SerialNumber == want.SerialNumber &&
		got.NewSerialNumber == want.NewSerialNumber &&
		got.ExpiresAt.Equal(want.ExpiresAt) &&
		got.Banned == want.Banned &&
		got.CanReattest == want.CanReattest &&
		got.CreatedAt.Equal(want.CreatedAt) &&
		got.UpdatedAt.Equal(want.UpdatedAt)
	if same {
		return ""
	}
	return fmt.Sprintf("\n got %+v\nwant %+v", got, want)
}

func newAgent(t *testing.T, id string) *datastore.Agent {
	return &datastore.Agent{
		SPIFFEID:        id,
		AttestationType: "join_token",
		Selectors:       sel(t, "join_token:abc", "aws:region:eu", "join_token:abc"),
		SerialNumber:    "123456789012345678901234567890",
		NewSerialNumber: "",
		ExpiresAt:       time.Unix(1_900_000_000, 123_456_000), // microseconds survive every store
		CanReattest:     true,
	}
}

func testAgentRoundTrip(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	in := newAgent(t, "spiffe://td/spire/agent/join_token/abc")
	before := time.Now()
	created, err := s.CreateAgent(ctx, in)
	must(t, "CreateAgent", err)
	after := time.Now()
	if created.CreatedAt.Before(before.Truncate(time.Second)) || created.CreatedAt.After(after) {
		t.Errorf("CreatedAt = %v, want within [%v, %v]", created.CreatedAt, before, after)
	}
	if !created.UpdatedAt.Equal(created.CreatedAt) {
		t.Errorf("UpdatedAt = %v, want CreatedAt %v", created.UpdatedAt, created.CreatedAt)
	}
	want := *in
	want.Selectors = sel(t, "aws:region:eu", "join_token:abc")
	want.CreatedAt, want.UpdatedAt = created.CreatedAt, created.UpdatedAt
	if d := agentDiff(created, &want); d != "" {
		t.Errorf("CreateAgent returned %s", d)
	}
	got, err := s.GetAgent(ctx, in.SPIFFEID)
	must(t, "GetAgent", err)
	if d := agentDiff(got, &want); d != "" {
		t.Errorf("GetAgent returned %s", d)
	}
}

func testAgentDuplicate(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	_, err := s.CreateAgent(ctx, newAgent(t, "spiffe://td/a"))
	must(t, "CreateAgent", err)
	_, err = s.CreateAgent(ctx, newAgent(t, "spiffe://td/a"))
	wantErr(t, "CreateAgent twice", err, datastore.ErrAlreadyExists)
	_, err = s.CreateAgent(ctx, &datastore.Agent{})
	if err == nil {
		t.Error("CreateAgent without SPIFFE ID succeeded, want a validation error")
	}
}

func testAgentUpdate(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	created, err := s.CreateAgent(ctx, newAgent(t, "spiffe://td/a"))
	must(t, "CreateAgent", err)

	steps := []struct {
		name   string
		change func(a *datastore.Agent)
	}{
		{"renew issues a new serial", func(a *datastore.Agent) { a.NewSerialNumber = "42" }},
		{"first use promotes it", func(a *datastore.Agent) {
			a.SerialNumber, a.NewSerialNumber = a.NewSerialNumber, ""
			a.ExpiresAt = a.ExpiresAt.Add(time.Hour)
		}},
		{"reattest changes selectors", func(a *datastore.Agent) { a.Selectors = sel(t, "aws:region:us") }},
		{"ban", func(a *datastore.Agent) { a.Banned, a.SerialNumber, a.CanReattest = true, "", false }},
	}
	cur := created
	for _, st := range steps {
		next := *cur
		st.change(&next)
		next.CreatedAt = time.Unix(1, 0) // ignored: the store keeps CreatedAt
		got, err := s.UpdateAgent(ctx, &next)
		must(t, st.name, err)
		if got.UpdatedAt.Before(cur.UpdatedAt) {
			t.Errorf("%s: UpdatedAt went back from %v to %v", st.name, cur.UpdatedAt, got.UpdatedAt)
		}
		want := next
		want.CreatedAt, want.UpdatedAt = created.CreatedAt, got.UpdatedAt
		if d := agentDiff(got, &want); d != "" {
			t.Errorf("%s: UpdateAgent returned %s", st.name, d)
		}
		stored, err := s.GetAgent(ctx, created.SPIFFEID)
		must(t, "GetAgent", err)
		if d := agentDiff(stored, &want); d != "" {
			t.Errorf("%s: GetAgent returned %s", st.name, d)
		}
		cur = stored
	}
	if !cur.Banned || cur.SerialNumber != "" {
		t.Errorf("final agent %+v, want banned with no serial", cur)
	}
}

func testAgentList(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	got, err := s.ListAgents(ctx)
	must(t, "ListAgents", err)
	if len(got) != 0 {
		t.Fatalf("ListAgents on an empty store returned %d agents", len(got))
	}
	ids := []string{"spiffe://td/c", "spiffe://td/a", "spiffe://td/b"}
	for _, id := range ids {
		_, err := s.CreateAgent(ctx, newAgent(t, id))
		must(t, "CreateAgent", err)
	}
	got, err = s.ListAgents(ctx)
	must(t, "ListAgents", err)
	var gotIDs []string
	for _, a := range got {
		gotIDs = append(gotIDs, a.SPIFFEID)
		if len(a.Selectors) != 2 {
			t.Errorf("agent %s selectors = %v, want 2", a.SPIFFEID, a.Selectors)
		}
	}
	if want := sortedStrings(ids); !slices.Equal(gotIDs, want) {
		t.Errorf("ListAgents IDs = %v, want %v", gotIDs, want)
	}
}

func testAgentDelete(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	_, err := s.CreateAgent(ctx, newAgent(t, "spiffe://td/a"))
	must(t, "CreateAgent", err)
	must(t, "DeleteAgent", s.DeleteAgent(ctx, "spiffe://td/a"))
	_, err = s.GetAgent(ctx, "spiffe://td/a")
	wantErr(t, "GetAgent after delete", err, datastore.ErrNotFound)
	wantErr(t, "DeleteAgent twice", s.DeleteAgent(ctx, "spiffe://td/a"), datastore.ErrNotFound)
	// The ID can be attested again.
	_, err = s.CreateAgent(ctx, newAgent(t, "spiffe://td/a"))
	must(t, "CreateAgent after delete", err)
}

func testAgentNotFound(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	_, err := s.GetAgent(ctx, "spiffe://td/missing")
	wantErr(t, "GetAgent", err, datastore.ErrNotFound)
	_, err = s.UpdateAgent(ctx, newAgent(t, "spiffe://td/missing"))
	wantErr(t, "UpdateAgent", err, datastore.ErrNotFound)
	wantErr(t, "DeleteAgent", s.DeleteAgent(ctx, "spiffe://td/missing"), datastore.ErrNotFound)
}

func testAgentReattest(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	created, err := s.CreateAgent(ctx, newAgent(t, "spiffe://td/a"))
	must(t, "CreateAgent", err)

	next := *created
	next.SerialNumber, next.Selectors = "7", sel(t, "k8s_psat:cluster:demo")
	got, err := s.ReattestAgent(ctx, &next)
	must(t, "ReattestAgent", err)
	want := next
	want.CreatedAt, want.UpdatedAt = created.CreatedAt, got.UpdatedAt
	if d := agentDiff(got, &want); d != "" {
		t.Errorf("ReattestAgent returned %s", d)
	}

	banned := *got
	banned.Banned, banned.SerialNumber = true, ""
	_, err = s.UpdateAgent(ctx, &banned)
	must(t, "UpdateAgent (ban)", err)
	again := *got
	again.SerialNumber = "8"
	if _, err := s.ReattestAgent(ctx, &again); !errors.Is(err, datastore.ErrBanned) {
		t.Fatalf("ReattestAgent of a banned agent: %v, want ErrBanned", err)
	}
	stored, err := s.GetAgent(ctx, created.SPIFFEID)
	must(t, "GetAgent", err)
	if !stored.Banned || stored.SerialNumber != "" {
		t.Fatalf("refused re-attestation changed the banned agent: %+v", stored)
	}

	missing := *got
	missing.SPIFFEID = "spiffe://td/missing"
	if _, err := s.ReattestAgent(ctx, &missing); !errors.Is(err, datastore.ErrNotFound) {
		t.Fatalf("ReattestAgent of a missing agent: %v, want ErrNotFound", err)
	}
}
