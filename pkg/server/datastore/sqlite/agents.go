package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// CreateAgent stores a new agent, setting CreatedAt and UpdatedAt.
func (s *Store) CreateAgent(ctx context.Context, a *datastore.Agent) (*datastore.Agent, error) {
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("sqlite: create agent: %w", err)
	}
	out := normalizeAgent(a)
	out.CreatedAt = fromNanos(time.Now().UnixNano())
	out.UpdatedAt = out.CreatedAt
	if err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := insertAgent(ctx, tx, out); err != nil {
			return err
		}
		return s.bumpAgentsRevision(ctx, tx, out.SPIFFEID)
	}); err != nil {
		return nil, fmt.Errorf("sqlite: create agent: %w", err)
	}
	return out, nil
}

// insertAgent inserts out, with its selectors, in tx; ErrAlreadyExists
// when its ID is taken.
func insertAgent(ctx context.Context, tx *sql.Tx, out *datastore.Agent) error {
	var one int
	switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM agents WHERE spiffe_id = ?`, out.SPIFFEID).Scan(&one); {
	case err == nil:
		return fmt.Errorf("agent %q: %w", out.SPIFFEID, datastore.ErrAlreadyExists)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("look up agent %q: %w", out.SPIFFEID, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO agents (spiffe_id, attestation_type, serial_number,
		new_serial_number, expires_at_ns, banned, can_reattest, created_at_ns, updated_at_ns)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		out.SPIFFEID, out.AttestationType, out.SerialNumber, out.NewSerialNumber, toNanos(out.ExpiresAt),
		boolInt(out.Banned), boolInt(out.CanReattest), toNanos(out.CreatedAt), toNanos(out.UpdatedAt)); err != nil {
		return fmt.Errorf("insert agent %q: %w", out.SPIFFEID, err)
	}
	return insertAgentSelectors(ctx, tx, out)
}

// UpdateAgent replaces the stored agent's fields, keeping CreatedAt and
// setting UpdatedAt.
func (s *Store) UpdateAgent(ctx context.Context, a *datastore.Agent) (*datastore.Agent, error) {
	out, err := s.updateAgent(ctx, a, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: update agent: %w", err)
	}
	return out, nil
}

// ReattestAgent is UpdateAgent for a re-attested agent: it refuses, with
// datastore.ErrBanned, an agent banned in the meantime.
func (s *Store) ReattestAgent(ctx context.Context, a *datastore.Agent) (*datastore.Agent, error) {
	out, err := s.updateAgent(ctx, a, true)
	if err != nil {
		return nil, fmt.Errorf("sqlite: re-attest agent: %w", err)
	}
	return out, nil
}

// updateAgent replaces the stored agent's fields in one transaction; with
// unlessBanned it first checks, in that transaction, that the stored
// agent is not banned.
func (s *Store) updateAgent(ctx context.Context, a *datastore.Agent, unlessBanned bool) (*datastore.Agent, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	out := normalizeAgent(a)
	out.UpdatedAt = fromNanos(time.Now().UnixNano())
	if err := s.writeTx(ctx, func(tx *sql.Tx) error {
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
// out.SPIFFEID in tx, setting out.CreatedAt to the stored one;
// ErrNotFound when absent. With unlessBanned it first checks, in tx, that
// the stored agent is not banned (ErrBanned).
func replaceAgent(ctx context.Context, tx *sql.Tx, out *datastore.Agent, unlessBanned bool) error {
	var created, banned int64
	err := tx.QueryRowContext(ctx, `SELECT created_at_ns, banned FROM agents WHERE spiffe_id = ?`, out.SPIFFEID).Scan(&created, &banned)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("agent %q: %w", out.SPIFFEID, datastore.ErrNotFound)
	case err != nil:
		return fmt.Errorf("look up agent %q: %w", out.SPIFFEID, err)
	case unlessBanned && banned != 0:
		return fmt.Errorf("agent %q: %w", out.SPIFFEID, datastore.ErrBanned)
	}
	out.CreatedAt = fromNanos(created)
	if _, err := tx.ExecContext(ctx, `UPDATE agents SET attestation_type = ?, serial_number = ?,
		new_serial_number = ?, expires_at_ns = ?, banned = ?, can_reattest = ?, updated_at_ns = ?
		WHERE spiffe_id = ?`,
		out.AttestationType, out.SerialNumber, out.NewSerialNumber, toNanos(out.ExpiresAt),
		boolInt(out.Banned), boolInt(out.CanReattest), toNanos(out.UpdatedAt), out.SPIFFEID); err != nil {
		return fmt.Errorf("update agent %q: %w", out.SPIFFEID, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM agent_selectors WHERE agent_id = ?`, out.SPIFFEID); err != nil {
		return fmt.Errorf("delete selectors of agent %q: %w", out.SPIFFEID, err)
	}
	return insertAgentSelectors(ctx, tx, out)
}

// GetAgent returns the agent with the given SPIFFE ID.
func (s *Store) GetAgent(ctx context.Context, spiffeID string) (*datastore.Agent, error) {
	as, err := s.loadAgents(ctx, "spiffe_id = ?", spiffeID)
	switch {
	case err != nil:
		return nil, fmt.Errorf("sqlite: get agent %q: %w", spiffeID, err)
	case len(as) == 0:
		return nil, fmt.Errorf("sqlite: agent %q: %w", spiffeID, datastore.ErrNotFound)
	}
	return as[0], nil
}

// ListAgents returns every agent ordered by SPIFFE ID.
func (s *Store) ListAgents(ctx context.Context) ([]*datastore.Agent, error) {
	as, err := s.loadAgents(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list agents: %w", err)
	}
	return as, nil
}

// DeleteAgent removes the agent and its selectors.
func (s *Store) DeleteAgent(ctx context.Context, spiffeID string) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM agent_selectors WHERE agent_id = ?`, spiffeID); err != nil {
			return fmt.Errorf("delete selectors: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM agents WHERE spiffe_id = ?`, spiffeID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return datastore.ErrNotFound
		}
		return s.bumpAgentsRevision(ctx, tx, spiffeID)
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete agent %q: %w", spiffeID, err)
	}
	return nil
}

// loadAgents returns the agents satisfying where (empty for all) ordered by
// SPIFFE ID, with their selectors read in one more query.
func (s *Store) loadAgents(ctx context.Context, where string, args ...any) ([]*datastore.Agent, error) {
	var as []*datastore.Agent
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		cond, idIn := "", ""
		if where != "" {
			cond = " WHERE " + where
			idIn = " WHERE agent_id IN (SELECT spiffe_id FROM agents WHERE " + where + ")"
		}
		rs, err := tx.QueryContext(ctx, `SELECT spiffe_id, attestation_type, serial_number, new_serial_number,
			expires_at_ns, banned, can_reattest, created_at_ns, updated_at_ns FROM agents`+cond+` ORDER BY spiffe_id`, args...)
		if err != nil {
			return fmt.Errorf("query agents: %w", err)
		}
		byID := make(map[string]*datastore.Agent)
		err = eachRow(rs, func(r *sql.Rows) error {
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
		return wrapErr("read agent selectors", loadChildren(ctx, tx,
			`SELECT agent_id, type, value FROM agent_selectors`+idIn, args, func(r *sql.Rows) error {
				var id string
				var sel selector.Selector
				if err := r.Scan(&id, &sel.Type, &sel.Value); err != nil {
					return err
				}
				if a := byID[id]; a != nil {
					a.Selectors = append(a.Selectors, sel)
				}
				return nil
			}))
	})
	for _, a := range as {
		a.Selectors = selector.NewSet(a.Selectors...)
	}
	return as, err
}

// insertAgentSelectors writes a's selectors in multi-row INSERTs.
func insertAgentSelectors(ctx context.Context, tx *sql.Tx, a *datastore.Agent) error {
	sels := make([][]any, len(a.Selectors))
	for i, sel := range a.Selectors {
		sels[i] = []any{a.SPIFFEID, sel.Type, sel.Value}
	}
	// An attestor decides how many selectors an agent has: chunked, so
	// that no count reaches SQLite's variable limit.
	if err := insertRows(ctx, tx, `INSERT INTO agent_selectors (agent_id, type, value) VALUES `, sels); err != nil {
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
