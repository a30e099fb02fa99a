package reloader_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"syscall"

	"github.com/svidkit/svidkit/pkg/helper/reloader"
)

// A helper starts the application after the first write of the certificate
// files and sends it SIGHUP after each later write (here a shell stands in
// for nginx -g "daemon off;").
func Example() {
	out, childOut := io.Pipe()
	r, err := reloader.New(reloader.Config{
		Cmd:     "sh",
		Args:    []string{"-c", "echo serving with the new certificates; exec sleep 60"},
		Signal:  syscall.SIGHUP,
		Restart: reloader.RestartOnFailure,
		Stdout:  childOut,
		Log:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println("reloader:", err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// The file writer calls r.Notify after every successful write; a
	// Notify before Run is kept until Run starts.
	r.Notify()
	go func() { done <- r.Run(ctx) }()

	line, _ := bufio.NewReader(out).ReadString('\n')
	fmt.Print(line)
	cancel() // the child gets SIGTERM, then Run returns
	fmt.Println("run:", <-done)
	// Output:
	// serving with the new certificates
	// run: <nil>
}
