package sqlite

import "time"

// toNanos encodes t as Unix nanoseconds for a BIGINT column; the zero time
// is 0. Nanoseconds make time.Time values round-trip exactly.
func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos decodes toNanos, in UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
