package server

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sync"
)

// setDigest memoises the digest of an authorized set.
type setDigest struct {
	once sync.Once
	hex  string
}

// digest returns a hex digest of the set's (ID, revision, creation time)
// triples. Every entry update bumps its revision and the entries are kept
// in ID order, so the digest changes exactly when the agent's authorized
// set or one of its entries changes, whatever else changes in the store.
func (s *authorizedSet) digestHex() string {
	s.digest.once.Do(func() {
		h := sha256.New()
		buf := make([]byte, 0, 64)
		for _, ce := range s.entries {
			// The length prefix keeps ID boundaries unambiguous.
			buf = binary.BigEndian.AppendUint32(buf[:0], uint32(len(ce.entry.ID)))
			buf = append(buf, ce.entry.ID...)
			buf = binary.BigEndian.AppendUint64(buf, uint64(ce.entry.RevisionNumber))
			buf = binary.BigEndian.AppendUint64(buf, uint64(ce.entry.CreatedAt))
			h.Write(buf)
		}
		s.digest.hex = hex.EncodeToString(h.Sum(nil)[:16])
	})
	return s.digest.hex
}
