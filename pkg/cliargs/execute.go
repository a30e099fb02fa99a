package cliargs

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Execute runs root with args normalized (see Normalize) and returns the
// process exit code: 0 on success, 1 after printing "Error: ..." to root's
// error output, once per line of the error. It is what a thin main calls:
//
//	os.Exit(cliargs.Execute(ctx, servercli.New(opts), os.Args[1:]))
func Execute(ctx context.Context, root *cobra.Command, args []string) int {
	root.SetArgs(Normalize(args))
	root.SilenceErrors = true
	if err := root.ExecuteContext(ctx); err != nil {
		// One "Error:" line per line of the message: a configuration
		// error lists each problem on its own line with its file:line.
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(root.ErrOrStderr(), "Error: %s\n", line)
		}
		return 1
	}
	return 0
}
