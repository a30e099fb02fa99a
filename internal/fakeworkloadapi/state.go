package fakeworkloadapi

import (
	"maps"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"

	"github.com/svidkit/svidkit/internal/testca"
)

// Method names a Workload API method whose answer can be replaced by an
// error.
type Method string

// The Workload API methods the fake serves.
const (
	FetchX509SVID   Method = "FetchX509SVID"
	FetchJWTSVID    Method = "FetchJWTSVID"
	FetchJWTBundles Method = "FetchJWTBundles"
)

// SetX509SVIDs replaces the served X.509-SVIDs (the first is the default)
// and pushes them to every open stream.
func (s *Server) SetX509SVIDs(svids ...*workload.X509SVID) {
	s.update(func() { s.svids = svids })
}

// SetFederatedBundles replaces the federated bundles (trust domain ID →
// DER roots) sent with the X.509-SVIDs and pushes them to every open stream.
func (s *Server) SetFederatedBundles(bundles map[string][]byte) {
	s.update(func() { s.federated = maps.Clone(bundles) })
}

// SetJWTIssuer makes FetchJWTSVID mint, with ca, one JWT-SVID for the
// requested audience per X.509-SVID set (same SPIFFE ID and hint), as an
// agent does for the entries it holds. Without an issuer FetchJWTSVID
// answers Unimplemented.
func (s *Server) SetJWTIssuer(ca *testca.CA) {
	s.update(func() { s.jwtIssuer = ca })
}

// SetJWTBundles replaces the JWT bundles (trust domain ID → JWKS JSON) and
// pushes them to every open stream.
func (s *Server) SetJWTBundles(bundles map[string][]byte) {
	s.update(func() { s.jwtBundles = maps.Clone(bundles) })
}

// SetError makes m answer err (a gRPC status error, typically) until it is
// cleared with a nil err. Open streams of m end with err at once.
func (s *Server) SetError(m Method, err error) {
	s.update(func() {
		if err == nil {
			delete(s.errs, m)
			return
		}
		s.errs[m] = err
	})
}

// update applies f under the lock and wakes every open stream.
func (s *Server) update(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
	close(s.changed)
	s.changed = make(chan struct{})
}

// state is a consistent copy of what the server serves.
type state struct {
	svids      []*workload.X509SVID
	federated  map[string][]byte
	jwtIssuer  *testca.CA
	jwtBundles map[string][]byte
	errs       map[Method]error
	changed    <-chan struct{}
}

func (s *Server) state() state {
	s.mu.Lock()
	defer s.mu.Unlock()
	return state{svids: s.svids, federated: s.federated, jwtIssuer: s.jwtIssuer, jwtBundles: s.jwtBundles,
		errs: maps.Clone(s.errs), changed: s.changed}
}
