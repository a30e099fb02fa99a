package sds

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Limits on the resource names one client may make the server hold. Envoy
// asks for a handful of names per stream, one per SDS secret its listeners
// and clusters reference ("default" and "ROOTCA" for most), so the limits
// are far above any real configuration; they exist so that a request, or
// the subscriptions of a delta stream, cannot make the daemon hold and
// resolve millions of names (issue 10: one stream of 100 requests of
// 40,000 unknown names took the agent from 21 to 801 MiB).
const (
	// MaxResourceNames is the most resource names one request may carry
	// and the most one delta stream may be subscribed to.
	MaxResourceNames = 256
	// MaxResourceNameBytes is the most bytes those names may add up to:
	// 64 KiB, 256 names of 256 bytes.
	MaxResourceNameBytes = 64 << 10
)

// checkNames refuses the resource names of one request, the request field
// named field, when they exceed the limits.
func checkNames(field string, names []string) error {
	if len(names) > MaxResourceNames {
		return tooMany(field, len(names))
	}
	n := 0
	for _, name := range names {
		n += len(name)
	}
	if n > MaxResourceNameBytes {
		return tooLong(field, n)
	}
	return nil
}

func tooMany(field string, n int) error {
	return status.Errorf(codes.InvalidArgument, "sds: %s: %d resource names, over the limit of %d names", field, n, MaxResourceNames)
}

func tooLong(field string, n int) error {
	return status.Errorf(codes.InvalidArgument, "sds: %s: resource names of %d bytes in all, over the limit of %d bytes", field, n, MaxResourceNameBytes)
}

// shownNames is how many missing names a NotFound error quotes, and
// shownNameBytes how much of each.
const (
	shownNames     = 3
	shownNameBytes = 64
)

// notFound is the error for names that cannot be served: it counts them
// and quotes the first few, shortened, so that it stays short whatever was
// asked for.
func notFound(missing []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "sds: no secrets for %d names: ", len(missing))
	for i, name := range missing[:min(len(missing), shownNames)] {
		if i > 0 {
			b.WriteString(", ")
		}
		if len(name) > shownNameBytes {
			cut := shownNameBytes
			for cut > 0 && !utf8.RuneStart(name[cut]) {
				cut--
			}
			name = name[:cut] + "…"
		}
		fmt.Fprintf(&b, "%q", name)
	}
	if len(missing) > shownNames {
		fmt.Fprintf(&b, " and %d more", len(missing)-shownNames)
	}
	return status.Error(codes.NotFound, b.String())
}
