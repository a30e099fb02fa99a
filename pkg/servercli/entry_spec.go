package servercli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/protobuf/encoding/protojson"
)

// entrySpec holds the flags that describe a registration entry, shared by
// `entry create` and `entry update`.
type entrySpec struct {
	entryID       string
	spiffeID      string
	parentID      string
	selectors     []string
	x509SVIDTTL   int
	jwtSVIDTTL    int
	ttl           int
	dnsNames      []string
	hint          string
	node          bool
	admin         bool
	downstream    bool
	storeSVID     bool
	federatesWith []string
	entryExpiry   int64
	dataPath      string
}

func (s *entrySpec) register(fs *pflag.FlagSet, withEntryID bool) {
	if withEntryID {
		fs.StringVar(&s.entryID, "entryID", "", "The Registration Entry ID of the record to update")
	}
	fs.StringVar(&s.spiffeID, "spiffeID", "", "The SPIFFE ID that this record represents")
	fs.StringVar(&s.parentID, "parentID", "", "The SPIFFE ID of this record's parent")
	fs.StringArrayVar(&s.selectors, "selector", nil, "A colon-delimited type:value selector. Can be used more than once")
	fs.IntVar(&s.x509SVIDTTL, "x509SVIDTTL", 0, "The lifetime, in seconds, for x509-SVIDs issued based on this registration entry")
	fs.IntVar(&s.jwtSVIDTTL, "jwtSVIDTTL", 0, "The lifetime, in seconds, for JWT-SVIDs issued based on this registration entry")
	fs.IntVar(&s.ttl, "ttl", 0, "The lifetime, in seconds, for SVIDs issued based on this registration entry (deprecated: use -x509SVIDTTL)")
	fs.StringArrayVar(&s.dnsNames, "dns", nil, "A DNS name that will be included in SVIDs issued based on this entry. Can be used more than once")
	fs.StringVar(&s.hint, "hint", "", "The entry hint, used to disambiguate entries with the same SPIFFE ID")
	fs.BoolVar(&s.node, "node", false, "If set, this entry will be applied to matching nodes rather than workloads")
	fs.BoolVar(&s.admin, "admin", false, "If set, the SPIFFE ID in this entry will be granted access to the server APIs")
	fs.BoolVar(&s.downstream, "downstream", false, "A boolean value that, when set, indicates that the entry describes a downstream SPIRE server")
	fs.BoolVar(&s.storeSVID, "storeSVID", false, "A boolean value that, when set, indicates that the resulting issued SVID from this entry must be stored through an SVIDStore plugin")
	fs.StringArrayVar(&s.federatesWith, "federatesWith", nil, "SPIFFE ID of a trust domain to federate with. Can be used more than once")
	fs.Int64Var(&s.entryExpiry, "entryExpiry", 0, "An expiry, from epoch in seconds, for the resulting registration entry to be pruned")
	fs.StringVar(&s.dataPath, "data", "", "Path to a file containing registration JSON (optional). If set to '-', read the JSON from stdin")
}

// entries returns the entries the flags (or the -data file) describe.
func (s *entrySpec) entries(cmd *cobra.Command, update bool) ([]*types.Entry, error) {
	if s.dataPath != "" {
		return readEntryData(cmd.InOrStdin(), s.dataPath, update)
	}
	e, err := s.entry(cmd, update)
	if err != nil {
		return nil, err
	}
	return []*types.Entry{e}, nil
}

// entry builds one entry from the flags, checking them as spire-server does.
func (s *entrySpec) entry(cmd *cobra.Command, update bool) (*types.Entry, error) {
	fs := cmd.Flags()
	switch {
	case update && s.entryID == "":
		return nil, errors.New("-entryID is required")
	case s.spiffeID == "":
		return nil, errors.New("-spiffeID is required")
	case s.parentID == "" && !s.node:
		return nil, errors.New("-parentID is required unless -node is set")
	case s.parentID != "" && s.node:
		return nil, errors.New("-parentID and -node cannot be used together")
	case len(s.selectors) == 0:
		return nil, errors.New("at least one -selector is required")
	case s.node && len(s.federatesWith) > 0:
		return nil, errors.New("-node entries cannot use -federatesWith")
	case s.x509SVIDTTL < 0:
		return nil, errors.New("-x509SVIDTTL must not be negative")
	case s.jwtSVIDTTL < 0:
		return nil, errors.New("-jwtSVIDTTL must not be negative")
	case s.ttl < 0:
		return nil, errors.New("-ttl must not be negative")
	case s.entryExpiry < 0:
		return nil, errors.New("-entryExpiry must not be negative")
	}
	x509TTL := s.x509SVIDTTL
	if fs.Changed("ttl") {
		if fs.Changed("x509SVIDTTL") {
			return nil, errors.New("use -x509SVIDTTL or the deprecated -ttl, not both")
		}
		fmt.Fprintln(cmd.ErrOrStderr(), "Warning: the -ttl flag is deprecated; use -x509SVIDTTL")
		x509TTL = s.ttl
	}
	spiffeID, err := parseID("spiffeID", s.spiffeID)
	if err != nil {
		return nil, err
	}
	parentID := &types.SPIFFEID{TrustDomain: spiffeID.TrustDomain, Path: serverIDPath}
	if !s.node {
		if parentID, err = parseID("parentID", s.parentID); err != nil {
			return nil, err
		}
	}
	selectors, err := parseSelectors(s.selectors)
	if err != nil {
		return nil, err
	}
	return &types.Entry{
		Id:            s.entryID,
		SpiffeId:      spiffeID,
		ParentId:      parentID,
		Selectors:     selectors,
		X509SvidTtl:   int32(x509TTL),
		JwtSvidTtl:    int32(s.jwtSVIDTTL),
		FederatesWith: s.federatesWith,
		Admin:         s.admin,
		Downstream:    s.downstream,
		StoreSvid:     s.storeSVID,
		ExpiresAt:     s.entryExpiry,
		DnsNames:      s.dnsNames,
		Hint:          s.hint,
	}, nil
}

// readEntryData reads SPIRE's registration JSON ({"entries": [...]}, the
// protojson form of a batch request) from path, or stdin for "-".
func readEntryData(stdin io.Reader, path string, update bool) ([]*types.Entry, error) {
	data, err := readInput(stdin, "data", path, false)
	if err != nil {
		return nil, err
	}
	var batch entryv1.BatchCreateEntryRequest
	if err := protojson.Unmarshal(data, &batch); err != nil {
		return nil, fmt.Errorf("parse -data %q: %w", path, err)
	}
	if len(batch.Entries) == 0 {
		return nil, fmt.Errorf("-data %q holds no entries", path)
	}
	for i, e := range batch.Entries {
		if update && e.GetId() == "" {
			return nil, fmt.Errorf("-data %q: entry %d has no id", path, i)
		}
	}
	return batch.Entries, nil
}
