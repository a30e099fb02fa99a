//go:build !linux

package peercred

import "net"

// readCred fails: only Linux has SO_PEERCRED.
func readCred(net.Conn) (Info, error) { return Info{}, ErrUnsupported }
