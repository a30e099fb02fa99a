package sqlite

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/svidkit/svidkit/pkg/selector"
)

// selectorsHash is the hex SHA-256 of a sorted selector set. Each type and
// value is length-prefixed, so no two different sets share an encoding. It
// backs the unique (spiffe_id, parent_id, selectors) index and exact matches.
func selectorsHash(s selector.Set) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, sel := range s {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(sel.Type)))])
		h.Write([]byte(sel.Type))
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(sel.Value)))])
		h.Write([]byte(sel.Value))
	}
	return hex.EncodeToString(h.Sum(nil))
}
