package pgtest

// StartStandalone runs a new cluster outside a test binary, as Main does for a
// package's tests: for tools (tools/loadgen) that need a real PostgreSQL
// the same way the tests get one. Close stops it and removes its
// directory. Connect with ConnString("postgres").
func StartStandalone() (*Server, error) {
	s := &Server{}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

// Close stops a cluster from StartStandalone and removes its directory.
func (s *Server) Close() error { return s.stop() }
