package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// CreateAgent stores a new agent, setting CreatedAt and UpdatedAt. Of
// racing creates of one ID the primary key lets one commit.
func (s *Store) CreateAgent(ctx context.Context, a *datastore.Agent) (*datastore.Agent, error) {
	if err := a.Validate(); err != nil {
		return nil, pgError("postgres: create agent: %w", err)
	}
	out := normalizeAgent(a)
	out.CreatedAt = fromNanos(time.Now().UnixNano())
	out.UpdatedAt = out.CreatedAt
	if err := s.writeTx(ctx, func(tx pgx.Tx) error {
		if err := insertAgent(ctx, tx, out); err != nil {
			return err
		}
		return s.bumpAgentsRevision(ctx, tx, out.SPIFFEID)
	}); err != nil {
		return nil, pgError("postgres: create agent: %w", err)
	}
	return out, nil
}

// insertAgent inserts out, with its selectors, in tx; ErrAlreadyExists
// when its ID is taken (by a committed or a racing transaction).
func insertAgent(ctx context.Context, tx pgx.Tx, out *datastore.Agent) error {
	tag, err := tx.Exec(ctx, `INSERT INTO agents (spiffe_id, attestation_type, serial_number,
		new_serial_number, expires_at_ns, banned, can_reattest, created_at_ns, updated_at_ns)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (spiffe_id) DO NOTHING`,
		out.SPIFFEID, out.AttestationType, out.SerialNumber, out.NewSerialNumber, toNanos(out.ExpiresAt),
		out.Banned, out.CanReattest, toNanos(out.CreatedAt), toNanos(out.UpdatedAt))
	switch {
	case err != nil:
		return fmt.Errorf("insert agent %q: %w", out.SPIFFEID, err)
	case tag.RowsAffected() == 0:
		return fmt.Errorf("agent %q: %w", out.SPIFFEID, datastore.ErrAlreadyExists)
	}
	return insertAgentSelectors(ctx, tx, out)
}

// UpdateAgent replaces the stored agent's fields, keeping CreatedAt and
// setting UpdatedAt.
func (s *Store) UpdateAgent(ctx context.Context, a *datastore.Agent) (*datastore.Agent, error) {
	out, err := s.updateAgent(ctx, a, false)
	if err != nil {
		return nil, pgError("postgres: update agent: %w", err)
	}
	return out, nil
}

// ReattestAgent is UpdateAgent for a re-attested agent: it refuses, with
// datastore.ErrBanned, an agent banned in the meantime, by this or any
// other server.
func (s *Store) ReattestAgent(ctx context.Context, a *datastore.Agent) (*datastore.Agent, error) {
	out, err := s.updateAgent(ctx, a, true)
	if err != nil {
		return nil, pgError("postgres: re-attest agent: %w", err)
	}
	return out, nil
}

// updateAgent replaces the stored agent's fields holding its row lock;
// with unlessBanned it first checks, under that lock, that the agent is
// not banned. A ban (an UpdateAgent) racing a re-attestation therefore
// either commits first, and the re-attestation sees it, or waits and then
// overwrites it: the ban stands either way.
func (s *Store) updateAgent(ctx context.Context, a *datastore.Agent, unlessBanned bool) (*datastore.Agent, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	out := normalizeAgent(a)
	out.UpdatedAt = fromNanos(time.Now().UnixNano())
	if err := s.writeTx(ctx, func(tx pgx.Tx) error {
		if err := replaceAgent(ctx, tx, out, unlessBanned); err != nil {
			return err
		}
		return s.bumpAgentsRevision(ctx, tx, out.SPIFFEID)
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// replaceAgent replaces the stored fields and selectors of the agent
// out.SPIFFEID in tx under its row lock, setting out.CreatedAt to the
// stored one; ErrNotFound when absent. With unlessBanned it first checks,
// under that lock, that the agent is not banned (ErrBanned).
func replaceAgent(ctx context.Context, tx pgx.Tx, out *datastore.Agent, unlessBanned bool) error {
	var created int64
	var banned bool
	err := tx.QueryRow(ctx, `SELECT created_at_ns, banned FROM agents WHERE spiffe_id = $1 FOR UPDATE`, out.SPIFFEID).Scan(&created, &banned)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("agent %q: %w", out.SPIFFEID, datastore.ErrNotFound)
	case err != nil:
		return fmt.Errorf("look up agent %q: %w", out.SPIFFEID, err)
	case unlessBanned && banned:
		return fmt.Errorf("agent %q: %w", out.SPIFFEID, datastore.ErrBanned)
	}
	out.CreatedAt = fromNanos(created)
	if _, err := tx.Exec(ctx, `UPDATE agents SET attestation_type = $1, serial_number = $2,
		new_serial_number = $3, expires_at_ns = $4, banned = $5, can_reattest = $6, updated_at_ns = $7
		WHERE spiffe_id = $8`,
		out.AttestationType, out.SerialNumber, out.NewSerialNumber, toNanos(out.ExpiresAt),
		out.Banned, out.CanReattest, toNanos(out.UpdatedAt), out.SPIFFEID); err != nil {
		return fmt.Errorf("update agent %q: %w", out.SPIFFEID, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM agent_selectors WHERE agent_id = $1`, out.SPIFFEID); err != nil {
		return fmt.Errorf("delete selectors of agent %q: %w", out.SPIFFEID, err)
	}
	return insertAgentSelectors(ctx, tx, out)
}

// GetAgent returns the agent with the given SPIFFE ID.
func (s *Store) GetAgent(ctx context.Context, spiffeID string) (*datastore.Agent, error) {
	a := new(datastore.Agent)
	var expires, created, updated int64
	var types, values []string
	err := s.pool.QueryRow(ctx, getAgentSQL, spiffeID).Scan(&a.SPIFFEID, &a.AttestationType, &a.SerialNumber, &a.NewSerialNumber,
		&expires, &a.Banned, &a.CanReattest, &created, &updated, &types, &values)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, fmt.Errorf("postgres: agent %q: %w", spiffeID, datastore.ErrNotFound)
	case err != nil:
		return nil, pgError("postgres: get agent %q: %w", spiffeID, err)
	case len(types) != len(values):
		return nil, fmt.Errorf("postgres: get agent %q: %d selector types for %d values", spiffeID, len(types), len(values))
	}
	a.ExpiresAt, a.CreatedAt, a.UpdatedAt = fromNanos(expires), fromNanos(created), fromNanos(updated)
	sels := make([]selector.Selector, len(types))
	for i := range types {
		sels[i] = selector.Selector{Type: types[i], Value: values[i]}
	}
	a.Selectors = selector.NewSet(sels...)
	return a, nil
}

// getAgentSQL reads one agent and its selectors in a single statement:
// one round trip and, as any single statement, one snapshot, with no
// transaction around it. Servers read an agent when it first calls and
// after another server changed it; on a busy database the three round
// trips a read transaction adds (BEGIN, a second query, COMMIT) showed in
// the cross-server propagation tail when every agent call read it.
const getAgentSQL = `SELECT a.spiffe_id, a.attestation_type, a.serial_number, a.new_serial_number,
	a.expires_at_ns, a.banned, a.can_reattest, a.created_at_ns, a.updated_at_ns,
	COALESCE(array_agg(s.type ORDER BY s.type, s.value) FILTER (WHERE s.agent_id IS NOT NULL), '{}'),
	COALESCE(array_agg(s.value ORDER BY s.type, s.value) FILTER (WHERE s.agent_id IS NOT NULL), '{}')
FROM agents a LEFT JOIN agent_selectors s ON s.agent_id = a.spiffe_id
WHERE a.spiffe_id = $1
GROUP BY a.spiffe_id`

// ListAgents returns every agent ordered by SPIFFE ID.
func (s *Store) ListAgents(ctx context.Context) ([]*datastore.Agent, error) {
	as, err := s.loadAgents(ctx, "")
	if err != nil {
		return nil, pgError("postgres: list agents: %w", err)
	}
	return as, nil
}

// DeleteAgent removes the agent; its selectors go by cascade.
func (s *Store) DeleteAgent(ctx context.Context, spiffeID string) error {
	err := s.writeTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM agents WHERE spiffe_id = $1`, spiffeID)
		switch {
		case err != nil:
			return err
		case tag.RowsAffected() == 0:
			return datastore.ErrNotFound
		}
		return s.bumpAgentsRevision(ctx, tx, spiffeID)
	})
	if err != nil {
		return pgError("postgres: delete agent %q: %w", spiffeID, err)
	}
	return nil
}

// loadAgents returns the agents satisfying where (empty for all) ordered by
// SPIFFE ID, with their selectors read in one more query, in one snapshot.
func (s *Store) loadAgents(ctx context.Context, where string, args ...any) ([]*datastore.Agent, error) {
	var as []*datastore.Agent
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		cond, idIn := "", ""
		if where != "" {
			cond = " WHERE " + where
			idIn = " WHERE agent_id IN (SELECT spiffe_id FROM agents WHERE " + where + ")"
		}
		rs, err := tx.Query(ctx, `SELECT spiffe_id, attestation_type, serial_number, new_serial_number,
			expires_at_ns, banned, can_reattest, created_at_ns, updated_at_ns FROM agents`+cond+` ORDER BY spiffe_id`, args...)
		if err != nil {
			return fmt.Errorf("query agents: %w", err)
		}
		byID := make(map[string]*datastore.Agent)
		err = eachRow(rs, func(r pgx.Rows) error {
			a := new(datastore.Agent)
			var expires, created, updated int64
			if err := r.Scan(&a.SPIFFEID, &a.AttestationType, &a.SerialNumber, &a.NewSerialNumber,
				&expires, &a.Banned, &a.CanReattest, &created, &updated); err != nil {
				return err
			}
			a.ExpiresAt, a.CreatedAt, a.UpdatedAt = fromNanos(expires), fromNanos(created), fromNanos(updated)
			as = append(as, a)
			byID[a.SPIFFEID] = a
			return nil
		})
		if err != nil || len(as) == 0 {
			return wrapErr("read agents", err)
		}
		var id, typ, value string
		return wrapErr("read agent selectors", loadChildren(ctx, tx,
			`SELECT agent_id, type, value FROM agent_selectors`+idIn, args, []any{&id, &typ, &value}, func() {
				if a := byID[id]; a != nil {
					a.Selectors = append(a.Selectors, selector.Selector{Type: typ, Value: value})
				}
			}))
	})
	for _, a := range as {
		a.Selectors = selector.NewSet(a.Selectors...)
	}
	return as, err
}

// insertAgentSelectors writes a's selectors in one statement.
func insertAgentSelectors(ctx context.Context, tx pgx.Tx, a *datastore.Agent) error {
	if len(a.Selectors) == 0 {
		return nil
	}
	types, values := make([]string, len(a.Selectors)), make([]string, len(a.Selectors))
	for i, s := range a.Selectors {
		types[i], values[i] = s.Type, s.Value
	}
	if _, err := tx.Exec(ctx, `INSERT INTO agent_selectors (agent_id, type, value)
		SELECT $1, t, v FROM unnest($2::text[], $3::text[]) AS u (t, v)`, a.SPIFFEID, types, values); err != nil {
		return fmt.Errorf("insert selectors of agent %q: %w", a.SPIFFEID, err)
	}
	return nil
}

// normalizeAgent returns a copy of a with sorted, de-duplicated selectors
// and its expiry in the stored representation.
func normalizeAgent(a *datastore.Agent) *datastore.Agent {
	out := *a
	out.Selectors = selector.NewSet(a.Selectors...)
	out.ExpiresAt = fromNanos(toNanos(a.ExpiresAt))
	return &out
}
