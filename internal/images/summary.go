package images

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// PrintSummary writes one line per image and platform: reference,
// platform, compressed size and the layout and tarball written.
func PrintSummary(w io.Writer, res Result, took time.Duration) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "IMAGE\tPLATFORM\tSIZE\tTARBALL\n")
	for _, b := range res.Images {
		for _, p := range res.Platforms {
			fmt.Fprintf(tw, "%s\t%s\t%.1f MiB\t%s\n", b.Ref, p, float64(b.Sizes[p])/(1<<20), b.Tarballs[p])
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s (commit %s): %d images in %s\n", res.Tag, res.Info.ShortCommit(), len(res.Images), took.Round(time.Second))
	return err
}
