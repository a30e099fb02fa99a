package unix_test

import (
	"context"
	"fmt"
	"os"

	"github.com/svidkit/svidkit/pkg/agent/workloadattest/unix"
	"github.com/svidkit/svidkit/pkg/procid"
)

// Example attests the current process, as the Workload API does for a
// caller using the process handle, uid and gid from the socket's peer
// credentials.
func Example() {
	p, err := procid.OpenPID("/proc", int32(os.Getpid()))
	if err != nil {
		fmt.Println("identify process:", err)
		return
	}
	defer p.Close()
	a := unix.New(unix.Config{})
	sels, err := a.Attest(context.Background(), p, uint32(os.Getuid()), uint32(os.Getgid()))
	if err != nil {
		fmt.Println("attest:", err)
		return
	}
	for _, s := range sels {
		fmt.Println(s) // unix:uid:1000, unix:path:/usr/bin/app, unix:sha256:...
	}
}
