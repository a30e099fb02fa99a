package demo

import (
	"context"
	"fmt"
	"io"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svidkit/svidkit/internal/sdsclient"
)

// sdsRetry is the pause before reopening a failed SDS stream.
const sdsRetry = 500 * time.Millisecond

// watchSDS is pattern 3's Envoy: an SDS client on svidkit-sds's socket
// asking for "default" (the SVID) and "ROOTCA" (the bundle), printing each
// push.
func (d *demo) watchSDS(ctx context.Context) error {
	conn, err := grpc.NewClient("unix://"+d.sdsSocket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("sds client: %w", err)
	}
	defer conn.Close()
	log := d.logs.envoy
	pushes := 0
	for ctx.Err() == nil {
		err := d.sdsStream(ctx, conn, log, &pushes)
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(log, "%s stream ended: %v; reopening\n", time.Now().Format(time.TimeOnly), err)
		select {
		case <-ctx.Done():
		case <-time.After(sdsRetry):
		}
	}
	return nil
}

// sdsStream reads one stream until it fails.
func (d *demo) sdsStream(ctx context.Context, conn *grpc.ClientConn, log io.Writer, pushes *int) error {
	s, err := sdsclient.Open(ctx, conn, &corev3.Node{Id: "demo-envoy", Cluster: "demo"}, "default", "ROOTCA")
	if err != nil {
		return err
	}
	for {
		resp, err := s.Next()
		if err != nil {
			return err
		}
		*pushes++
		if !s.Complete(resp) {
			fmt.Fprintf(log, "%s push %d version %s: %d of 2 secrets\n", time.Now().Format(time.TimeOnly), *pushes, resp.Version, len(resp.Secrets))
			continue
		}
		cert, err := sdsclient.Leaf(resp.Secrets["default"])
		if err != nil {
			return err
		}
		fresh := d.sds.add(cert)
		fmt.Fprintf(log, "%s push %d version %s: default %v serial %s not after %s (new: %t)\n", time.Now().Format(time.TimeOnly),
			*pushes, resp.Version, cert.URIs, serialHex(cert), cert.NotAfter.Format(time.RFC3339), fresh)
		d.screen.set(lineSDS, statusLine(fmt.Sprintf("[3] svidkit-sds   push %d to an SDS client", *pushes), cert, &d.sds))
	}
}
