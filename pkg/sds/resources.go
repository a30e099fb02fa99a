package sds

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// secretTypeURL is the xDS type of every SDS resource.
const secretTypeURL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

// names are the configured special resource names.
type names struct{ svid, bundle, all string }

// resource is one rendered secret with its content version.
type resource struct {
	name    string
	any     *anypb.Any
	version string
}

// view renders one snapshot for one stream's validator choice.
// A view without a memo renders everything afresh.
type view struct {
	snap   *Snapshot
	names  names
	spiffe bool
	memo   *memo
}

// lookup is resolve through the memo. Only served names are remembered:
// they are few (the snapshot's SVIDs and bundles under their spellings),
// while names that cannot be served are whatever a client sends, so
// remembering them would let a client grow the memo without bound (issue
// 10). Resolving such a name again costs a parse and a map lookup.
func (v view) lookup(name string) (*resource, error) {
	if v.memo == nil {
		return v.resolve(name)
	}
	v.memo.mu.Lock()
	defer v.memo.mu.Unlock()
	if r, ok := v.memo.byName[name]; ok {
		return r, nil
	}
	r, err := v.resolve(name)
	if err != nil || r == nil {
		return nil, err
	}
	v.memo.byName[name] = r
	return r, nil
}

// all is wildcard through the memo.
func (v view) all() ([]*resource, error) {
	if v.memo == nil {
		return v.wildcard()
	}
	v.memo.mu.Lock()
	defer v.memo.mu.Unlock()
	if !v.memo.wildOK {
		rs, err := v.wildcard()
		if err != nil {
			return nil, err
		}
		v.memo.wildcard, v.memo.wildOK = rs, true
	}
	return v.memo.wildcard, nil
}

// resolve renders the secret called name, or returns nil when the snapshot
// cannot serve it (yet).
func (v view) resolve(name string) (*resource, error) {
	s := v.snap
	var (
		secret *tlsv3.Secret
		err    error
	)
	switch {
	case name == v.names.svid:
		if len(s.SVIDs) == 0 {
			return nil, nil
		}
		secret, err = tlsCertificate(name, s.SVIDs[0])
	case name == v.names.bundle:
		b := v.bundle(s.TrustDomain)
		if b == nil {
			return nil, nil
		}
		secret, err = validationContext(name, []*x509bundle.Bundle{b}, v.spiffe)
	case name == v.names.all:
		bs := sortedBundles(s.Bundles)
		if len(bs) == 0 {
			return nil, nil
		}
		secret, err = validationContext(name, bs, v.spiffe)
	default:
		id, td, ok := parseName(name)
		switch {
		case !ok:
			return nil, nil
		case !id.IsZero():
			i := v.svidIndex(id)
			if i < 0 {
				return nil, nil
			}
			secret, err = tlsCertificate(name, s.SVIDs[i])
		default:
			b := v.bundle(td)
			if b == nil {
				return nil, nil
			}
			secret, err = validationContext(name, []*x509bundle.Bundle{b}, v.spiffe)
		}
	}
	if err != nil {
		return nil, err
	}
	return newResource(secret)
}

// wildcard renders everything, named as SPIRE names it for a request
// without names: bundles by trust domain ID, SVIDs by SPIFFE ID.
func (v view) wildcard() ([]*resource, error) {
	var out []*resource
	for _, b := range sortedBundles(v.snap.Bundles) {
		secret, err := validationContext(b.TrustDomain().IDString(), []*x509bundle.Bundle{b}, v.spiffe)
		if err != nil {
			return nil, err
		}
		r, err := newResource(secret)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	seen := make(map[string]bool)
	for _, svid := range v.snap.SVIDs {
		name := svid.ID.String()
		if seen[name] {
			continue
		}
		seen[name] = true
		secret, err := tlsCertificate(name, svid)
		if err != nil {
			return nil, err
		}
		r, err := newResource(secret)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// render resolves names in order, skipping duplicates, and returns the
// served resources and the names that cannot be served yet. No names means
// the wildcard.
func (v view) render(req []string) (served []*resource, missing []string, err error) {
	if len(req) == 0 {
		served, err = v.all()
		return served, nil, err
	}
	seen := make(map[string]bool, len(req))
	for _, name := range req {
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		r, err := v.lookup(name)
		if err != nil {
			return nil, nil, err
		}
		if r == nil {
			missing = append(missing, name)
			continue
		}
		served = append(served, r)
	}
	return served, missing, nil
}

func (v view) bundle(td spiffeid.TrustDomain) *x509bundle.Bundle {
	if v.snap.Bundles == nil || td.IsZero() {
		return nil
	}
	b, ok := v.snap.Bundles.Get(td)
	if !ok {
		return nil
	}
	return b
}

func (v view) svidIndex(id spiffeid.ID) int {
	for i, s := range v.snap.SVIDs {
		if s.ID == id {
			return i
		}
	}
	return -1
}

// parseName reads a SPIFFE ID (non-zero id) or a trust domain, spelled
// "spiffe://example.org" or "example.org".
func parseName(name string) (id spiffeid.ID, td spiffeid.TrustDomain, ok bool) {
	if strings.HasPrefix(name, "spiffe://") {
		parsed, err := spiffeid.FromString(name)
		if err != nil {
			return spiffeid.ID{}, spiffeid.TrustDomain{}, false
		}
		if parsed.Path() == "" {
			return spiffeid.ID{}, parsed.TrustDomain(), true
		}
		return parsed, spiffeid.TrustDomain{}, true
	}
	td, err := spiffeid.TrustDomainFromString(name)
	if err != nil {
		return spiffeid.ID{}, spiffeid.TrustDomain{}, false
	}
	return spiffeid.ID{}, td, true
}

// newResource packs secret and derives its version from its exact bytes.
func newResource(secret *tlsv3.Secret) (*resource, error) {
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(secret)
	if err != nil {
		return nil, fmt.Errorf("marshal secret %q: %w", secret.GetName(), err)
	}
	sum := sha256.Sum256(raw)
	return &resource{
		name:    secret.GetName(),
		any:     &anypb.Any{TypeUrl: secretTypeURL, Value: raw},
		version: hex.EncodeToString(sum[:8]),
	}, nil
}

// setVersion is the version of a whole state-of-the-world response: it
// changes exactly when a served name or its content changes.
func setVersion(rs []*resource) string {
	keys := make([]string, len(rs))
	for i, r := range rs {
		keys[i] = r.name + "\x00" + r.version
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
