package unix_test

import (
	"context"
	"fmt"
	"os"

	"github.com/svidkit/svidkit/pkg/workloadattest/unix"
)

// Example attests the current process, as the Workload API does for a
// caller using the pid, uid and gid from the socket's peer credentials.
func Example() {
	a := unix.New(unix.Config{})
	sels, err := a.Attest(context.Background(), int32(os.Getpid()), uint32(os.Getuid()), uint32(os.Getgid()))
	if err != nil {
		fmt.Println("attest:", err)
		return
	}
	for _, s := range sels {
		fmt.Println(s) // unix:uid:1000, unix:path:/usr/bin/app, unix:sha256:...
	}
}
