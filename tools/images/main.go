// Command images builds svidkit's container images (internal/images) into
// bin/images: go tool task images runs it. It needs neither Docker nor
// network access: the binaries are built here and the images have no base.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/svidkit/svidkit/internal/images"
)

func main() {
	out := flag.String("out", "bin/images", "output directory")
	ca := flag.String("ca-bundle", images.DefaultCABundle, "PEM file of CA certificates to put in the images")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *ca); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out, ca string) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := images.Build(ctx, images.Config{Root: root, Out: out, CABundle: ca})
	if err != nil {
		return err
	}
	return images.PrintSummary(os.Stdout, res, time.Since(start))
}
