package server

import (
	"errors"
	"time"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// stale answers a cache's snapshot call whose store read failed with err.
// While the database is unreachable it answers with the snapshot held, if
// any: entries and bundles cannot change meanwhile (writes fail too), so
// agents keep syncing and minting from memory. It sets *checkedAt to now,
// so that the next read of the store waits the cache's maxAge and held
// syncs do not each wait on a dead database. Other errors are returned.
// The cache's lock is held.
func stale[S any](snap *S, checkedAt *time.Time, now time.Time, err error) (*S, error) {
	if snap == nil || !errors.Is(err, datastore.ErrUnavailable) {
		return nil, err
	}
	*checkedAt = now
	return snap, nil
}
