package servercli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/protobuf/types/known/emptypb"
)

func newAgentCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "agent", Short: "Manages attested agents"}
	cmd.AddCommand(newAgentListCommand(), newAgentShowCommand(),
		newAgentActionCommand("ban", "Ban an attested agent given its SPIFFE ID", "Agent banned successfully",
			func(c agentv1.AgentClient, cmd *cobra.Command, id *types.SPIFFEID) (*emptypb.Empty, error) {
				return c.BanAgent(cmd.Context(), &agentv1.BanAgentRequest{Id: id})
			}),
		newAgentActionCommand("evict", "Evicts an attested agent given its SPIFFE ID", "Agent evicted successfully",
			func(c agentv1.AgentClient, cmd *cobra.Command, id *types.SPIFFEID) (*emptypb.Empty, error) {
				return c.DeleteAgent(cmd.Context(), &agentv1.DeleteAgentRequest{Id: id})
			}))
	return cmd
}

func newAgentListCommand() *cobra.Command {
	var (
		admin            adminFlags
		attestationType  string
		selectors        []string
		matchSelectorsOn string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Lists attested agents and their SPIFFE IDs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := admin.check(); err != nil {
				return err
			}
			filter := &agentv1.ListAgentsRequest_Filter{ByAttestationType: attestationType}
			if len(selectors) > 0 {
				sels, err := parseSelectors(selectors)
				if err != nil {
					return err
				}
				match, err := matchBehavior("matchSelectorsOn", matchSelectorsOn)
				if err != nil {
					return err
				}
				filter.BySelectorMatch = &types.SelectorMatch{Selectors: sels, Match: types.SelectorMatch_MatchBehavior(match)}
			}
			conn, err := admin.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			client := agentv1.NewAgentClient(conn)
			resp := &agentv1.ListAgentsResponse{}
			req := &agentv1.ListAgentsRequest{Filter: filter}
			for {
				page, err := client.ListAgents(cmd.Context(), req)
				if err != nil {
					return fmt.Errorf("list agents: %w", err)
				}
				resp.Agents = append(resp.Agents, page.GetAgents()...)
				if page.GetNextPageToken() == "" {
					break
				}
				req.PageToken = page.GetNextPageToken()
			}
			if admin.output == outputJSON {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			w := cmd.OutOrStdout()
			if len(resp.Agents) == 0 {
				fmt.Fprintln(w, "No attested agents found")
				return nil
			}
			fmt.Fprintf(w, "Found %s:\n\n", plural(len(resp.Agents), "attested agent", "attested agents"))
			for _, a := range resp.Agents {
				printAgent(w, a)
			}
			return nil
		},
	}
	admin.register(cmd.Flags())
	cmd.Flags().StringVar(&attestationType, "attestationType", "", "Filter by attestation type, like join_token")
	cmd.Flags().StringArrayVar(&selectors, "selector", nil, "A colon-delimited type:value selector. Can be used more than once")
	cmd.Flags().StringVar(&matchSelectorsOn, "matchSelectorsOn", "superset", "The match mode used when filtering by selectors (exact, subset, superset, any)")
	return cmd
}

func newAgentShowCommand() *cobra.Command {
	var (
		admin    adminFlags
		spiffeID string
	)
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Shows the details of an attested agent given its SPIFFE ID",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := admin.check(); err != nil {
				return err
			}
			id, err := requiredID(spiffeID)
			if err != nil {
				return err
			}
			conn, err := admin.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			a, err := agentv1.NewAgentClient(conn).GetAgent(cmd.Context(), &agentv1.GetAgentRequest{Id: id})
			if err != nil {
				return fmt.Errorf("show agent %q: %w", spiffeID, err)
			}
			if admin.output == outputJSON {
				return printJSON(cmd.OutOrStdout(), a)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Found an attested agent given its SPIFFE ID\n\n")
			printAgent(cmd.OutOrStdout(), a)
			return nil
		},
	}
	admin.register(cmd.Flags())
	cmd.Flags().StringVar(&spiffeID, "spiffeID", "", "The SPIFFE ID of the agent")
	return cmd
}

// agentAction is one agent RPC that takes only the agent's SPIFFE ID.
type agentAction func(agentv1.AgentClient, *cobra.Command, *types.SPIFFEID) (*emptypb.Empty, error)

// newAgentActionCommand builds `agent ban` and `agent evict`.
func newAgentActionCommand(name, short, success string, action agentAction) *cobra.Command {
	var (
		admin    adminFlags
		spiffeID string
	)
	cmd := &cobra.Command{
		Use:   name,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := admin.check(); err != nil {
				return err
			}
			id, err := requiredID(spiffeID)
			if err != nil {
				return err
			}
			conn, err := admin.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			resp, err := action(agentv1.NewAgentClient(conn), cmd, id)
			if err != nil {
				return fmt.Errorf("%s agent %q: %w", name, spiffeID, err)
			}
			if admin.output == outputJSON {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			fmt.Fprintln(cmd.OutOrStdout(), success)
			return nil
		},
	}
	admin.register(cmd.Flags())
	cmd.Flags().StringVar(&spiffeID, "spiffeID", "", "The SPIFFE ID of the agent")
	return cmd
}

func requiredID(spiffeID string) (*types.SPIFFEID, error) {
	if spiffeID == "" {
		return nil, errors.New("-spiffeID is required")
	}
	return parseID("spiffeID", spiffeID)
}

// printAgent writes one agent block as spire-server does.
func printAgent(w io.Writer, a *types.Agent) {
	fmt.Fprintf(w, "SPIFFE ID         : %s\n", idString(a.GetId()))
	fmt.Fprintf(w, "Attestation type  : %s\n", a.GetAttestationType())
	fmt.Fprintf(w, "Expiration time   : %s\n", time.Unix(a.GetX509SvidExpiresAt(), 0).UTC())
	fmt.Fprintf(w, "Serial number     : %s\n", a.GetX509SvidSerialNumber())
	fmt.Fprintf(w, "Can re-attest     : %t\n", a.GetCanReattest())
	if a.GetBanned() {
		fmt.Fprintf(w, "Banned            : %t\n", true)
	}
	for _, s := range a.GetSelectors() {
		fmt.Fprintf(w, "Selector          : %s\n", selectorString(s))
	}
	fmt.Fprintln(w)
}
