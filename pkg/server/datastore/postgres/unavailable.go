package postgres

import (
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// pgError is fmt.Errorf for the store's errors. When the error it wraps
// says the database cannot be reached, the result also wraps
// datastore.ErrUnavailable, so that the server answers Unavailable
// (retry later) rather than Internal.
func pgError(format string, args ...any) error {
	return markUnavailable(fmt.Errorf(format, args...))
}

// markUnavailable wraps datastore.ErrUnavailable around err when err says
// the database cannot be reached (once).
func markUnavailable(err error) error {
	if err == nil || errors.Is(err, datastore.ErrUnavailable) || !unreachable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", datastore.ErrUnavailable, err)
}

// unreachable reports whether err means that PostgreSQL cannot be
// reached or is not accepting work for now: no connection could be made,
// the connection broke, or the server is shutting down, starting up or
// in recovery (SQLSTATE class 08, 57P01-57P03).
func unreachable(err error) bool {
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case len(pgErr.Code) == 5 && pgErr.Code[:2] == "08":
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03":
			return true
		}
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || pgconn.SafeToRetry(err)
}
