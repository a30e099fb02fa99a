// Command crds generates deploy/k8s/crds from the registrar's Go types
// (internal/crdgen): go tool task crds runs it from the module root.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/svidkit/svidkit/internal/crdgen"
)

func main() {
	out := flag.String("out", crdgen.Dir, "output directory")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	root, err := os.Getwd()
	if err == nil {
		var names []string
		if names, err = crdgen.Generate(ctx, root, *out); err == nil {
			for _, n := range names {
				fmt.Println(*out + "/" + n)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
