package servercli

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// entryFilter holds the filter flags of `entry show` and `entry count`.
type entryFilter struct {
	spiffeID             string
	parentID             string
	selectors            []string
	matchSelectorsOn     string
	federatesWith        []string
	matchFederatesWithOn string
	hint                 string
	downstream           bool
}

func (f *entryFilter) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.spiffeID, "spiffeID", "", "The SPIFFE ID of the records to show")
	fs.StringVar(&f.parentID, "parentID", "", "The Parent ID of the records to show")
	fs.StringArrayVar(&f.selectors, "selector", nil, "A colon-delimited type:value selector. Can be used more than once")
	fs.StringVar(&f.matchSelectorsOn, "matchSelectorsOn", "superset", "The match mode used when filtering by selectors (exact, subset, superset, any)")
	fs.StringArrayVar(&f.federatesWith, "federatesWith", nil, "SPIFFE ID of a trust domain an entry is federated with. Can be used more than once")
	fs.StringVar(&f.matchFederatesWithOn, "matchFederatesWithOn", "superset", "The match mode used when filtering by federates with (exact, subset, superset, any)")
	fs.StringVar(&f.hint, "hint", "", "The hint of the records to show")
	fs.BoolVar(&f.downstream, "downstream", false, "A boolean value that, when set, shows only entries for downstream servers")
}

// build converts the flags into the List filter; Count's has the same
// fields.
func (f *entryFilter) build(fs *pflag.FlagSet) (*entryv1.ListEntriesRequest_Filter, error) {
	out := &entryv1.ListEntriesRequest_Filter{}
	var err error
	if f.spiffeID != "" {
		if out.BySpiffeId, err = parseID("spiffeID", f.spiffeID); err != nil {
			return nil, err
		}
	}
	if f.parentID != "" {
		if out.ByParentId, err = parseID("parentID", f.parentID); err != nil {
			return nil, err
		}
	}
	if len(f.selectors) > 0 {
		sels, err := parseSelectors(f.selectors)
		if err != nil {
			return nil, err
		}
		match, err := matchBehavior("matchSelectorsOn", f.matchSelectorsOn)
		if err != nil {
			return nil, err
		}
		out.BySelectors = &types.SelectorMatch{Selectors: sels, Match: types.SelectorMatch_MatchBehavior(match)}
	}
	if len(f.federatesWith) > 0 {
		match, err := matchBehavior("matchFederatesWithOn", f.matchFederatesWithOn)
		if err != nil {
			return nil, err
		}
		out.ByFederatesWith = &types.FederatesWithMatch{TrustDomains: f.federatesWith,
			Match: types.FederatesWithMatch_MatchBehavior(match)}
	}
	if f.hint != "" {
		out.ByHint = wrapperspb.String(f.hint)
	}
	if fs.Changed("downstream") {
		out.ByDownstream = wrapperspb.Bool(f.downstream)
	}
	return out, nil
}

func newEntryShowCommand() *cobra.Command {
	var (
		admin   adminFlags
		filter  entryFilter
		entryID string
	)
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Displays configured registration entries",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := admin.check(); err != nil {
				return err
			}
			req, err := filter.build(cmd.Flags())
			if err != nil {
				return err
			}
			conn, err := admin.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			client := entryv1.NewEntryClient(conn)
			resp := &entryv1.ListEntriesResponse{}
			if entryID != "" {
				e, err := client.GetEntry(cmd.Context(), &entryv1.GetEntryRequest{Id: entryID})
				if err != nil {
					return fmt.Errorf("get entry %q: %w", entryID, err)
				}
				resp.Entries = []*types.Entry{e}
			} else {
				listReq := &entryv1.ListEntriesRequest{Filter: req}
				for {
					page, err := client.ListEntries(cmd.Context(), listReq)
					if err != nil {
						return fmt.Errorf("list entries: %w", err)
					}
					resp.Entries = append(resp.Entries, page.GetEntries()...)
					if page.GetNextPageToken() == "" {
						break
					}
					listReq.PageToken = page.GetNextPageToken()
				}
			}
			if admin.output == outputJSON {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Found %s\n\n", plural(len(resp.Entries), "entry", "entries"))
			for _, e := range resp.Entries {
				printEntry(w, e)
			}
			return nil
		},
	}
	admin.register(cmd.Flags())
	filter.register(cmd.Flags())
	cmd.Flags().StringVar(&entryID, "entryID", "", "The Entry ID of the records to show")
	return cmd
}

func newEntryCountCommand() *cobra.Command {
	var (
		admin  adminFlags
		filter entryFilter
	)
	cmd := &cobra.Command{
		Use:   "count",
		Short: "Counts registration entries",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := admin.check(); err != nil {
				return err
			}
			f, err := filter.build(cmd.Flags())
			if err != nil {
				return err
			}
			conn, err := admin.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			resp, err := entryv1.NewEntryClient(conn).CountEntries(cmd.Context(), &entryv1.CountEntriesRequest{
				Filter: &entryv1.CountEntriesRequest_Filter{
					BySpiffeId:      f.BySpiffeId,
					ByParentId:      f.ByParentId,
					BySelectors:     f.BySelectors,
					ByFederatesWith: f.ByFederatesWith,
					ByHint:          f.ByHint,
					ByDownstream:    f.ByDownstream,
				},
			})
			if err != nil {
				return fmt.Errorf("count entries: %w", err)
			}
			if admin.output == outputJSON {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n",
				plural(int(resp.GetCount()), "registration entry", "registration entries"))
			return nil
		},
	}
	admin.register(cmd.Flags())
	filter.register(cmd.Flags())
	return cmd
}
