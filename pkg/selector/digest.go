package selector

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Digest returns the hex SHA-256 of the set's canonical encoding: each
// type and value length-prefixed, in the set's order, so no two different
// sorted sets share a digest. The datastores key the unique (spiffe_id,
// parent_id, selectors) index and exact selector matches on it; s must be
// sorted and de-duplicated (NewSet) for equal sets to agree.
func (s Set) Digest() string {
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
