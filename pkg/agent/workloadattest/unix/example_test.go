package unix_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/svidkit/svidkit/pkg/agent/workloadattest/unix"
	"github.com/svidkit/svidkit/pkg/procid"
)

// Example attests the current process, as the Workload API does for a
// caller using the process handle, uid and gid from the socket's peer
// credentials. The selectors are unix:uid:1000, unix:user:app,
// unix:gid:…, unix:group:…, unix:path:/usr/bin/app and unix:sha256:…
// (of the binary); the example prints the kind of each and checks the uid.
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
	var kinds []string
	for _, s := range sels {
		kind, value, _ := strings.Cut(s.Value, ":")
		kinds = append(kinds, s.Type+":"+kind)
		if kind == "uid" && value != strconv.Itoa(os.Getuid()) {
			fmt.Println("wrong uid:", s)
		}
	}
	fmt.Println(strings.Join(kinds, " "))
	// Output: unix:gid unix:group unix:path unix:sha256 unix:uid unix:user
}
