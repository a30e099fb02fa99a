package demo

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/svidkit/svidkit/pkg/wlclient"
)

// watchWorkload is pattern 1: this process is a workload that watches its
// own X.509-SVID on the Workload API with go-spiffe, as an application
// linking go-spiffe does.
func (d *demo) watchWorkload(ctx context.Context) error {
	client, err := wlclient.New(ctx, "unix://"+d.agentSocket, wlclient.Backoff{Min: 100 * time.Millisecond, Max: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("workload API client: %w", err)
	}
	defer client.Close()
	err = client.WatchX509Context(ctx, workloadWatcher{d: d, log: d.logs.workload})
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("watch X.509 context: %w", err)
}

// workloadWatcher implements workloadapi.X509ContextWatcher.
type workloadWatcher struct {
	d   *demo
	log io.Writer
}

func (w workloadWatcher) OnX509ContextUpdate(c *workloadapi.X509Context) {
	if len(c.SVIDs) == 0 || len(c.SVIDs[0].Certificates) == 0 {
		fmt.Fprintf(w.log, "%s update without an SVID\n", time.Now().Format(time.TimeOnly))
		return
	}
	svid := c.SVIDs[0] // the default SVID
	cert := svid.Certificates[0]
	fresh := w.d.workload.add(cert)
	fmt.Fprintf(w.log, "%s %s serial %s not after %s (new: %t)\n", time.Now().Format(time.TimeOnly),
		svid.ID, serialHex(cert), cert.NotAfter.Format(time.RFC3339), fresh)
	w.d.screen.set(lineWorkload, statusLine("[1] Workload API  go-spiffe watch", cert, &w.d.workload))
}

func (w workloadWatcher) OnX509ContextWatchError(err error) {
	fmt.Fprintf(w.log, "%s watch error: %v\n", time.Now().Format(time.TimeOnly), err)
}
