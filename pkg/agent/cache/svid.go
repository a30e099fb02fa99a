package cache

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// storedSVID is an SVID as the cache keeps it: encoded the way the Workload
// API sends it, plus the few leaf fields the cache consults. A parsed
// certificate takes several times the memory of its DER, and encoding on
// every Workload API call is wasted work, so SVIDs are encoded once when
// they are set and never kept parsed.
type storedSVID struct {
	chainDER  []byte // concatenated DER, leaf first
	keyPKCS8  []byte
	notBefore time.Time
	notAfter  time.Time
	// entryRevision and mintedAt are SVID's fields of the same names.
	entryRevision int64
	mintedAt      time.Time
}

// encodeSVID turns a parsed SVID into its stored form.
func encodeSVID(s SVID) (*storedSVID, error) {
	if len(s.Chain) == 0 || s.Key == nil {
		return nil, errors.New("SVID without certificate or key")
	}
	key, err := x509.MarshalPKCS8PrivateKey(s.Key)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	n := 0
	for _, c := range s.Chain {
		n += len(c.Raw)
	}
	// A fresh exact-size buffer: Raw may alias a larger message buffer
	// that should not stay reachable.
	chain := make([]byte, 0, n)
	for _, c := range s.Chain {
		chain = append(chain, c.Raw...)
	}
	leaf := s.Chain[0]
	return &storedSVID{
		chainDER:      chain,
		keyPKCS8:      key,
		notBefore:     leaf.NotBefore,
		notAfter:      leaf.NotAfter,
		entryRevision: s.EntryRevision,
		mintedAt:      s.MintedAt,
	}, nil
}
