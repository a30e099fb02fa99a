package servercli

import (
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"github.com/svidkit/svidkit/pkg/selector"
)

// serverIDPath is the path of the server's own SPIFFE ID, the parent of
// node entries (-node).
const serverIDPath = "/spire/server"

// parseID parses the SPIFFE ID given to flag into its API form.
func parseID(flag, value string) (*types.SPIFFEID, error) {
	id, err := spiffeid.FromString(value)
	if err != nil {
		return nil, fmt.Errorf("invalid -%s %q: %w", flag, value, err)
	}
	return &types.SPIFFEID{TrustDomain: id.TrustDomain().Name(), Path: id.Path()}, nil
}

// idString renders an API SPIFFE ID as spiffe://td/path.
func idString(id *types.SPIFFEID) string {
	if id == nil {
		return ""
	}
	return "spiffe://" + id.TrustDomain + id.Path
}

// parseSelectors parses repeated -selector values ("type:value").
func parseSelectors(values []string) ([]*types.Selector, error) {
	out := make([]*types.Selector, 0, len(values))
	for _, v := range values {
		s, err := selector.Parse(v)
		if err != nil {
			return nil, fmt.Errorf("invalid selector %q: %w", v, err)
		}
		out = append(out, &types.Selector{Type: s.Type, Value: s.Value})
	}
	return out, nil
}

// selectorString renders an API selector as type:value.
func selectorString(s *types.Selector) string { return s.GetType() + ":" + s.GetValue() }

// matchBehavior parses -matchSelectorsOn / -matchFederatesWithOn.
func matchBehavior(flag, value string) (int32, error) {
	switch strings.ToLower(value) {
	case "exact":
		return int32(types.SelectorMatch_MATCH_EXACT), nil
	case "subset":
		return int32(types.SelectorMatch_MATCH_SUBSET), nil
	case "superset":
		return int32(types.SelectorMatch_MATCH_SUPERSET), nil
	case "any":
		return int32(types.SelectorMatch_MATCH_ANY), nil
	}
	return 0, fmt.Errorf("invalid -%s %q: want exact, subset, superset or any", flag, value)
}
