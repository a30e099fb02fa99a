package workloadapi_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/internal/prereq"
	unixatt "github.com/svidkit/svidkit/pkg/agent/workloadattest/unix"
	"github.com/svidkit/svidkit/pkg/selector"
)

// These tests attack the Workload API the way a local process can: a
// connection is made by one process and used after that process has become
// something else, either by exec'ing another program (same pid, same start
// time) or by exiting so that its pid is reused. Each connection is made by
// a real child process (the test binary in a peer role, see runPeer) and
// handed to the test over SCM_RIGHTS once the server has accepted it; the
// test then speaks gRPC on it against the real server and unix attestor.

// peer is a connection made by a child process and handed to this one.
type peer struct {
	cmd  *exec.Cmd
	conn net.Conn
	// execd reaches EOF when a peerExec child has exec'd.
	execd *os.File
}

// peerOpts are the child's credentials and, for peerExec, the program.
type peerOpts struct {
	cred *syscall.Credential
	exec string
}

// startPeer starts a child in role, receives the Workload API connection it
// makes to sock, and stops the child at cleanup.
func startPeer(t *testing.T, sock, role string, opts peerOpts) *peer {
	t.Helper()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	parentEnd, childEnd := os.NewFile(uintptr(pair[0]), "parent"), os.NewFile(uintptr(pair[1]), "child")
	defer parentEnd.Close()

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(),
		peerRoleEnv+"="+role, "WORKLOADAPI_TEST_SOCK="+sock, "WORKLOADAPI_TEST_EXEC="+opts.exec)
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = []*os.File{childEnd}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: opts.cred, Pdeathsig: syscall.SIGKILL}
	p := &peer{cmd: cmd}
	var execW *os.File
	if role == peerExec {
		if p.execd, execW, err = os.Pipe(); err != nil {
			t.Fatal(err)
		}
		cmd.ExtraFiles = append(cmd.ExtraFiles, execW)
		t.Cleanup(func() { p.execd.Close() })
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	childEnd.Close()
	if execW != nil {
		execW.Close()
	}
	t.Cleanup(func() {
		stdin.Close()
		if role == peerExec {
			cmd.Process.Kill()
		}
		cmd.Wait()
	})
	p.conn = receiveConn(t, parentEnd)
	t.Cleanup(func() { p.conn.Close() })
	return p
}

// receiveConn reads one connection passed with SCM_RIGHTS on f.
func receiveConn(t *testing.T, f *os.File) net.Conn {
	t.Helper()
	c, err := net.FileConn(f)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	uc := c.(*net.UnixConn)
	if err := uc.SetReadDeadline(time.Now().Add(waitTimeout)); err != nil {
		t.Fatal(err)
	}
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatalf("receive the peer's connection: %v", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("peer sent no connection (%d control messages, %v)", len(msgs), err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("peer sent %d fds (%v), want 1", len(fds), err)
	}
	cf := os.NewFile(uintptr(fds[0]), "workload-api-conn")
	defer cf.Close()
	conn, err := net.FileConn(cf)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// awaitExec waits until the peerExec child runs its new program.
func (p *peer) awaitExec(t *testing.T) {
	t.Helper()
	if err := p.execd.SetReadDeadline(time.Now().Add(waitTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.execd.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("waiting for the peer to exec: %v", err)
	}
}

// fetchX509SVID runs one FetchX509SVID call on conn and returns the SPIFFE
// ID of the first SVID in the first response.
func fetchX509SVID(t *testing.T, conn net.Conn) (string, error) {
	t.Helper()
	once := make(chan net.Conn, 1)
	once <- conn
	cc, err := grpc.NewClient("passthrough:///peer",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			select {
			case c := <-once:
				return c, nil
			default:
				return nil, errors.New("the peer's connection is already used")
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	stream, err := workload.NewSpiffeWorkloadAPIClient(cc).FetchX509SVID(withHeader(testCtx(t)), &workload.X509SVIDRequest{})
	if err != nil {
		return "", err
	}
	resp, err := stream.Recv()
	if err != nil {
		return "", err
	}
	if len(resp.Svids) == 0 {
		return "", errors.New("response has no SVID")
	}
	return resp.Svids[0].SpiffeId, nil
}

// checkFetch asserts the outcome of fetchX509SVID.
func checkFetch(t *testing.T, gotID string, err error, wantID string, wantCode codes.Code) {
	t.Helper()
	if status.Code(err) != wantCode {
		t.Fatalf("FetchX509SVID = %q, %v; want code %v", gotID, err, wantCode)
	}
	if err == nil && gotID != wantID {
		t.Fatalf("FetchX509SVID returned %s, want %s", gotID, wantID)
	}
}

func unixSel(value string) selector.Set {
	return selector.NewSet(selector.Selector{Type: "unix", Value: value})
}

// TestPeerThatExecsIsRefused: a process connects, hands the connection to
// another and execs sleep; the holder must not get the SVID of entries
// selecting unix:path:<sleep>, which sleep itself would get.
func TestPeerThatExecsIsRefused(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatalf("the exec attack needs a sleep binary: %v", err)
	}
	if sleep, err = filepath.EvalSymlinks(sleep); err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t, "example.org")
	e := serve(t, newFakeManager(ca,
		fakeEntry{sels: unixSel("path:" + self), id: ca.identity("/self", "")},
		fakeEntry{sels: unixSel("path:" + sleep), id: ca.identity("/sleep", "")},
	), unixatt.New(unixatt.Config{}))

	tests := []struct {
		name     string
		role     string
		wantID   string
		wantCode codes.Code
	}{
		{name: "peer still runs the program it connected with", role: peerHold, wantID: "spiffe://example.org/self"},
		{name: "peer exec'd sleep after connecting", role: peerExec, wantCode: codes.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startPeer(t, e.sock, tt.role, peerOpts{exec: sleep})
			if tt.role == peerExec {
				p.awaitExec(t)
			}
			id, err := fetchX509SVID(t, p.conn)
			checkFetch(t, id, err, tt.wantID, tt.wantCode)
		})
	}
}

// pidnsEnv tells the test binary it runs as init of a fresh pid namespace.
const pidnsEnv = "WORKLOADAPI_TEST_IN_PIDNS"

// TestPeerWhosePIDIsReusedIsRefused: a process connects, hands the
// connection over and exits; its pid is then reused by a process with
// supplementary group 4242. The holder must not get the SVID of entries
// selecting unix:supplementary_gid:4242. The test runs itself as init of a
// new pid namespace, where it alone allocates pids, so it can steer the next
// pid onto the dead one with ns_last_pid.
func TestPeerWhosePIDIsReusedIsRefused(t *testing.T) {
	if os.Getenv(pidnsEnv) == "" {
		prereq.Root(t, "acts as another uid")
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), pidnsEnv+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS,
			Pdeathsig:  syscall.SIGKILL,
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("test in a new pid namespace: %v\n%s", err, out)
		}
		t.Logf("test in a new pid namespace:\n%s", out)
		return
	}

	// Our own /proc, showing this namespace's pids, without touching the
	// host's mounts.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatalf("make mounts private: %v", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		t.Fatalf("mount proc: %v", err)
	}
	ca := newTestCA(t, "example.org")
	e := serve(t, newFakeManager(ca,
		fakeEntry{sels: unixSel("supplementary_gid:4242"), id: ca.identity("/gid4242", "")},
	), unixatt.New(unixatt.Config{}))
	with4242 := &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{4242}}

	t.Run("peer in group 4242 gets the SVID", func(t *testing.T) {
		p := startPeer(t, e.sock, peerHold, peerOpts{cred: with4242})
		id, err := fetchX509SVID(t, p.conn)
		checkFetch(t, id, err, "spiffe://example.org/gid4242", codes.OK)
	})
	t.Run("holder of a dead peer's connection after its pid is reused", func(t *testing.T) {
		p := startPeer(t, e.sock, peerExit, peerOpts{cred: &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{}}})
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("peer: %v", err)
		}
		dead := p.cmd.Process.Pid
		reuse := reusePID(t, dead, with4242)
		t.Logf("pid %d exited and now runs %v in group 4242", dead, reuse.Args)
		id, err := fetchX509SVID(t, p.conn)
		checkFetch(t, id, err, "", codes.PermissionDenied)
	})
}

// reusePID starts sleep with cred as pid, which must be free, in this pid
// namespace. A thread the Go runtime starts at the wrong moment can take
// the pid first; then it tries again.
func reusePID(t *testing.T, pid int, cred *syscall.Credential) *exec.Cmd {
	t.Helper()
	const attempts = 20
	for range attempts {
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Fatalf("set ns_last_pid: %v", err)
		}
		cmd := exec.Command("sleep", "600")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if cmd.Process.Pid == pid {
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			return cmd
		}
		cmd.Process.Kill()
		cmd.Wait()
	}
	t.Fatalf("pid %d was not reused in %d attempts", pid, attempts)
	return nil
}
