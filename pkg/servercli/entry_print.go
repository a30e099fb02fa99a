package servercli

import (
	"fmt"
	"io"
	"time"

	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
)

// printEntry writes one entry as spire-server does: a block of
// "Name : value" lines followed by a blank line.
func printEntry(w io.Writer, e *types.Entry) {
	fmt.Fprintf(w, "Entry ID         : %s\n", orNone(e.GetId()))
	fmt.Fprintf(w, "SPIFFE ID        : %s\n", idString(e.GetSpiffeId()))
	fmt.Fprintf(w, "Parent ID        : %s\n", idString(e.GetParentId()))
	fmt.Fprintf(w, "Revision         : %d\n", e.GetRevisionNumber())
	if e.GetDownstream() {
		fmt.Fprintf(w, "Downstream       : %t\n", true)
	}
	fmt.Fprintf(w, "X509-SVID TTL    : %s\n", ttlString(e.GetX509SvidTtl()))
	fmt.Fprintf(w, "JWT-SVID TTL     : %s\n", ttlString(e.GetJwtSvidTtl()))
	if e.GetExpiresAt() != 0 {
		fmt.Fprintf(w, "Expiration time  : %s\n", time.Unix(e.GetExpiresAt(), 0).UTC())
	}
	for _, s := range e.GetSelectors() {
		fmt.Fprintf(w, "Selector         : %s\n", selectorString(s))
	}
	for _, td := range e.GetFederatesWith() {
		fmt.Fprintf(w, "FederatesWith    : %s\n", td)
	}
	for _, name := range e.GetDnsNames() {
		fmt.Fprintf(w, "DNS name         : %s\n", name)
	}
	if e.GetAdmin() {
		fmt.Fprintf(w, "Admin            : %t\n", true)
	}
	if e.GetStoreSvid() {
		fmt.Fprintf(w, "StoreSvid        : %t\n", true)
	}
	if e.GetHint() != "" {
		fmt.Fprintf(w, "Hint             : %s\n", e.GetHint())
	}
	if e.GetCreatedAt() != 0 {
		fmt.Fprintf(w, "Created at       : %s\n", time.Unix(e.GetCreatedAt(), 0).UTC())
	}
	fmt.Fprintln(w)
}

func ttlString(ttl int32) string {
	if ttl == 0 {
		return "default"
	}
	return fmt.Sprint(ttl)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// plural returns "1 entry" / "2 entries" style counts.
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
