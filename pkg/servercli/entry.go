package servercli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

func newEntryCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "entry", Short: "Manages registration entries"}
	cmd.AddCommand(newEntryCreateCommand(), newEntryUpdateCommand(), newEntryDeleteCommand(),
		newEntryShowCommand(), newEntryCountCommand())
	return cmd
}

func newEntryCreateCommand() *cobra.Command {
	return newEntryWriteCommand("create", "Creates registration entries", false,
		func(ctx context.Context, c entryv1.EntryClient, entries []*types.Entry) (*entryv1.BatchCreateEntryResponse, []*entryv1.BatchCreateEntryResponse_Result, error) {
			resp, err := c.BatchCreateEntry(ctx, &entryv1.BatchCreateEntryRequest{Entries: entries})
			return resp, resp.GetResults(), err
		})
}

func newEntryUpdateCommand() *cobra.Command {
	return newEntryWriteCommand("update", "Updates registration entries", true,
		func(ctx context.Context, c entryv1.EntryClient, entries []*types.Entry) (*entryv1.BatchUpdateEntryResponse, []*entryv1.BatchUpdateEntryResponse_Result, error) {
			resp, err := c.BatchUpdateEntry(ctx, &entryv1.BatchUpdateEntryRequest{Entries: entries})
			return resp, resp.GetResults(), err
		})
}

// newEntryWriteCommand builds `entry create` and `entry update`, which share
// their flags, their checks and their output and differ only in the RPC.
func newEntryWriteCommand[Resp proto.Message, R entryResult](verb, short string, update bool,
	call func(context.Context, entryv1.EntryClient, []*types.Entry) (Resp, []R, error)) *cobra.Command {
	var (
		admin adminFlags
		spec  entrySpec
	)
	cmd := &cobra.Command{
		Use:   verb,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := admin.check(); err != nil {
				return err
			}
			entries, err := spec.entries(cmd, update)
			if err != nil {
				return err
			}
			conn, err := admin.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			resp, results, err := call(cmd.Context(), entryv1.NewEntryClient(conn), entries)
			if err != nil {
				return fmt.Errorf("%s entries: %w", verb, err)
			}
			if admin.output == outputJSON {
				if err := printJSON(cmd.OutOrStdout(), resp); err != nil {
					return err
				}
			}
			return reportEntryResults(cmd, verb, admin.output, results, entries)
		},
	}
	admin.register(cmd.Flags())
	spec.register(cmd.Flags(), update)
	return cmd
}

func newEntryDeleteCommand() *cobra.Command {
	var (
		admin   adminFlags
		entryID string
	)
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Deletes a registration entry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := admin.check(); err != nil {
				return err
			}
			if entryID == "" {
				return errors.New("-entryID is required")
			}
			conn, err := admin.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			resp, err := entryv1.NewEntryClient(conn).BatchDeleteEntry(cmd.Context(),
				&entryv1.BatchDeleteEntryRequest{Ids: []string{entryID}})
			if err != nil {
				return fmt.Errorf("delete entry: %w", err)
			}
			if admin.output == outputJSON {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			for _, r := range resp.GetResults() {
				if r.GetStatus().GetCode() != int32(codes.OK) {
					return fmt.Errorf("delete entry %q (code: %s): %s", r.GetId(),
						codes.Code(r.GetStatus().GetCode()), r.GetStatus().GetMessage())
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Deleted entry with ID: %s\n", r.GetId())
			}
			return nil
		},
	}
	admin.register(cmd.Flags())
	cmd.Flags().StringVar(&entryID, "entryID", "", "The Registration Entry ID of the record to delete")
	return cmd
}

// entryResult is what create and update results have in common.
type entryResult interface {
	GetStatus() *types.Status
	GetEntry() *types.Entry
}

// reportEntryResults prints succeeded entries (pretty output only) and
// every failure, as spire-server does, and fails if any item failed.
func reportEntryResults[R entryResult](cmd *cobra.Command, verb, output string, results []R, sent []*types.Entry) error {
	failed := 0
	for i, r := range results {
		if r.GetStatus().GetCode() == int32(codes.OK) {
			if output == outputPretty {
				printEntry(cmd.OutOrStdout(), r.GetEntry())
			}
			continue
		}
		failed++
		printFailure(cmd.ErrOrStderr(), verb, r.GetStatus(), pick(r.GetEntry(), sent, i))
	}
	if failed > 0 {
		return fmt.Errorf("failed to %s one or more entries", verb)
	}
	return nil
}

// printFailure reports one failed batch item as spire-server does.
func printFailure(w io.Writer, verb string, st *types.Status, e *types.Entry) {
	fmt.Fprintf(w, "Failed to %s the following entry (code: %s, msg: %q):\n",
		verb, codes.Code(st.GetCode()), st.GetMessage())
	if e != nil {
		printEntry(w, e)
	}
}

// pick returns the entry echoed in a result, or the one sent at index i
// (the API leaves failed results empty).
func pick(got *types.Entry, sent []*types.Entry, i int) *types.Entry {
	if got != nil {
		return got
	}
	if i < len(sent) {
		return sent[i]
	}
	return nil
}
