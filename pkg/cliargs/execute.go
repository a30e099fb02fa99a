package cliargs

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

// Execute runs root with args normalized (see Normalize) and returns the
// process exit code: 0 on success, 1 after printing "Error: ..." to root's
// error output. It is what a thin main calls:
//
//	os.Exit(cliargs.Execute(ctx, servercli.New(opts), os.Args[1:]))
func Execute(ctx context.Context, root *cobra.Command, args []string) int {
	root.SetArgs(Normalize(args))
	root.SilenceErrors = true
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(root.ErrOrStderr(), "Error: %v\n", err)
		return 1
	}
	return 0
}
