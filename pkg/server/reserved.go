package server

import (
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
)

// reservedNamespace is the path prefix SPIRE keeps for its own
// identities: the server (/spire/server) and the agents (/spire/agent/…).
// An X.509-SVID with the server's ID is what agents accept as the server,
// so no entry, join-token alias or admin mint may name an ID in it; agent
// IDs come only from node attestation. SPIRE refuses the same paths
// (VerifyTrustDomainWorkloadID in its pkg/server/api).
const reservedNamespace = "/spire"

// isReservedPath reports whether path is /spire or below it. "/spire-x"
// and "/x/spire" are ordinary paths.
func isReservedPath(path string) bool {
	return path == reservedNamespace || strings.HasPrefix(path, reservedNamespace+"/")
}

// checkWorkloadID fails when id cannot name a workload (or node alias):
// its path is empty or in the reserved namespace. field names the
// request field in the error.
func checkWorkloadID(field string, id spiffeid.ID) error {
	switch {
	case id.Path() == "":
		return fmt.Errorf("%s: %q has no path", field, id)
	case isReservedPath(id.Path()):
		return fmt.Errorf("%s: %q is in the reserved namespace %s/ (the server's and agents' own IDs); choose another path",
			field, id, reservedNamespace)
	}
	return nil
}

// parseWorkloadID is parseMemberID plus checkWorkloadID.
func parseWorkloadID(field string, id *types.SPIFFEID, td spiffeid.TrustDomain) (spiffeid.ID, error) {
	parsed, err := parseMemberID(field, id, td)
	if err != nil {
		return spiffeid.ID{}, err
	}
	if err := checkWorkloadID(field, parsed); err != nil {
		return spiffeid.ID{}, err
	}
	return parsed, nil
}
