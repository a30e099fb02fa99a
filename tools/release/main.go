// Command release builds svidkit's release artifacts into bin/release: the
// images (internal/images) under images/, then per platform a tar.gz of
// the same binaries, CycloneDX SBOMs and SHA256SUMS (internal/release). go
// tool task release runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/svidkit/svidkit/internal/images"
	"github.com/svidkit/svidkit/internal/release"
)

func main() {
	out := flag.String("out", "bin/release", "output directory")
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
	built, err := images.Build(ctx, images.Config{Root: root, Out: filepath.Join(out, "images"), CABundle: ca})
	if err != nil {
		return err
	}
	if err := images.PrintSummary(os.Stdout, built, time.Since(start)); err != nil {
		return err
	}
	a, err := release.Package(ctx, release.Config{Root: root, Built: built, Out: out})
	if err != nil {
		return err
	}
	for _, f := range append(append(a.Archives, a.SBOMs...), a.Sums) {
		fmt.Println(filepath.Join(out, f))
	}
	fmt.Printf("release %s in %s\n", built.Tag, time.Since(start).Round(time.Second))
	return nil
}
