package e2e_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/internal/benchmetric"
	"github.com/svidkit/svidkit/internal/gobuild"
	"github.com/svidkit/svidkit/internal/testenv"
)

// BenchmarkMemoryAttacks runs the memory attacks of issue 10 (findings 3
// and 4) against the real svidkit-agent and svidkit-sds binaries and
// reports the attacked daemon's memory: VmRSS when idle before the attack
// ("idle-MiB"), its high-water mark VmHWM after it ("peak-MiB") and VmRSS
// once it has settled ("after-MiB"), with the number of requests the
// daemon refused ("refused"). Every sub-benchmark starts its own server,
// agent (and svidkit-sds), so each peak is that attack's alone.
//
//   - sds-stream: one StreamSecrets stream on the agent's socket sends 100
//     requests of 40,000 unknown names each (the issue: 21 → 801 MiB);
//   - sds-stream-at-limit: the same stream within the per-request limit,
//     1,000 requests of 256 unique unknown names of 256 bytes;
//   - sds-fetch: 40 FetchSecrets calls of 40,000 unknown names each to
//     svidkit-sds (the issue: 16 → 512 MiB, held until the next rotation);
//   - sds-fetch-at-limit: 1,000 FetchSecrets calls of 256 unique unknown
//     names of 256 bytes;
//   - jwt: 1,500 FetchJWTSVID calls with unique 200 KB audiences (the
//     issue: 21 → 723 MiB, still there after 30 s);
//   - jwt-at-limit: 3,000 FetchJWTSVID calls with unique audiences of the
//     largest size allowed; it also reports VmRSS after the first 1,000
//     ("at-1k-MiB", the JWT cache's default size) and after all 3,000
//     ("at-3k-MiB"): with an LRU the two agree.
//
// It runs once and ignores b.N.
func BenchmarkMemoryAttacks(b *testing.B) {
	bin := buildBinaries(b, "server", "agent", "sds")
	b.Run("sds-stream", func(b *testing.B) {
		d := startAttackDaemons(b, bin)
		attack(b, d.agent, func() int { return sdsStreamAttack(b, d.socket, 100, 40000, 90) })
	})
	b.Run("sds-stream-at-limit", func(b *testing.B) {
		d := startAttackDaemons(b, bin)
		attack(b, d.agent, func() int { return sdsStreamAttack(b, d.socket, 1000, 256, 256) })
	})
	b.Run("sds-fetch", func(b *testing.B) {
		d := startAttackDaemons(b, bin)
		sds, sock := startSDSProcess(b, d.l.Dir, d.socket, filepath.Join(bin, "svidkit-sds"))
		attack(b, sds, func() int { return sdsFetchAttack(b, sock, 40, 40000, 90) })
	})
	b.Run("sds-fetch-at-limit", func(b *testing.B) {
		d := startAttackDaemons(b, bin)
		sds, sock := startSDSProcess(b, d.l.Dir, d.socket, filepath.Join(bin, "svidkit-sds"))
		attack(b, sds, func() int { return sdsFetchAttack(b, sock, 1000, 256, 256) })
	})
	b.Run("jwt", func(b *testing.B) {
		d := startAttackDaemons(b, bin)
		attack(b, d.agent, func() int { return jwtAttack(b, d.socket, 1500, 1, 200_000, nil) })
	})
	b.Run("jwt-at-limit", func(b *testing.B) {
		d := startAttackDaemons(b, bin)
		pid := d.agent.Process.Pid
		attack(b, d.agent, func() int {
			// 4 audiences of 1 KiB: the largest request the agent accepts.
			return jwtAttack(b, d.socket, 3000, 4, 1024, func(done int) {
				if done == 1000 || done == 3000 {
					b.ReportMetric(benchmetric.ProcStatusMiB(b, pid, "VmRSS:"), fmt.Sprintf("at-%dk-MiB", done/1000))
				}
			})
		})
	})
}

// attack reports the memory of proc around run, which performs an attack
// and returns how many of its requests were refused.
func attack(b *testing.B, proc *exec.Cmd, run func() (refused int)) {
	b.Helper()
	pid := proc.Process.Pid
	time.Sleep(memorySettle) // Let the daemons idle; nothing to wait for.
	b.ResetTimer()
	b.ReportMetric(benchmetric.ProcStatusMiB(b, pid, "VmRSS:"), "idle-MiB")
	refused := run()
	b.ReportMetric(benchmetric.ProcStatusMiB(b, pid, "VmHWM:"), "peak-MiB")
	time.Sleep(memorySettle) // Let the daemon collect; nothing to wait for.
	b.ReportMetric(benchmetric.ProcStatusMiB(b, pid, "VmRSS:"), "after-MiB")
	b.ReportMetric(float64(refused), "refused")
	b.StopTimer()
	b.ReportMetric(0, "ns/op")
}

// attackDaemons is a server and an agent run from the real binaries, with
// an entry for this process's uid whose X.509-SVID the agent holds.
type attackDaemons struct {
	l      *testenv.Layout
	agent  *exec.Cmd
	socket string
}

func startAttackDaemons(b *testing.B, bin string) *attackDaemons {
	b.Helper()
	l := testenv.NewLayout(b, spiffeid.RequireTrustDomainFromString(trustDomain))
	serverPort := testenv.FreePort(b)
	_, admin := startServerProcess(b, l, filepath.Join(bin, "svidkit-server"), serverPort)
	agent := startAgentProcess(b, l, admin, filepath.Join(bin, "svidkit-agent"), serverPort, testenv.FreePort(b))
	admin.CreateEntry(b, workloadEntry(testenv.NodePath, "/attacker", 0))
	socket := l.AgentSocket(processAgent)
	pollUntil(b, 30*time.Second, 50*time.Millisecond, "an X.509-SVID for this process", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := workloadapi.FetchX509SVID(ctx, workloadapi.WithAddr("unix://"+socket))
		return err == nil
	})
	return &attackDaemons{l: l, agent: agent, socket: socket}
}

// startSDSProcess runs the svidkit-sds binary against the Workload API at
// agentSocket, serving SDS on a socket in a private directory under dir,
// with its health listener on, and returns once it is ready: it has an
// X.509 context from the agent and its socket exists.
func startSDSProcess(tb testing.TB, dir, agentSocket, binary string) (*exec.Cmd, string) {
	tb.Helper()
	sockDir := filepath.Join(dir, "sds")
	if err := os.Mkdir(sockDir, 0o700); err != nil {
		tb.Fatal(err)
	}
	sock := filepath.Join(sockDir, "sds.sock")
	port := testenv.FreePort(tb)
	conf := fmt.Sprintf("agent_address = %q\nlisten_address = [%q]\nhealth_checks {\n  listener_enabled = true\n  bind_address = \"127.0.0.1\"\n  bind_port = %d\n}\n",
		agentSocket, sock, port)
	cmd := startProcess(tb, dir, binary, "sds", conf)
	readyURL := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/ready"
	pollUntil(tb, 30*time.Second, 50*time.Millisecond, "svidkit-sds to be ready", func() bool {
		_, err := os.Stat(sock)
		return err == nil && httpOK(readyURL)
	})
	return cmd, sock
}

// unknownNames returns n distinct resource names of size bytes that no
// workload has, distinct across rounds too.
func unknownNames(round, n, size int) []string {
	out := make([]string, n)
	for i := range out {
		s := fmt.Sprintf("unknown-%d-%d-", round, i)
		out[i] = s + strings.Repeat("x", max(size-len(s), 0))
	}
	return out
}

func dialUnix(b *testing.B, sock string) *grpc.ClientConn {
	b.Helper()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

// sdsStreamAttack sends requests requests of perRequest unknown names on
// one StreamSecrets stream, then asks for "default": its response
// arrives once every earlier request was handled. It returns 1 if the
// stream was refused with InvalidArgument, else 0.
func sdsStreamAttack(b *testing.B, sock string, requests, perRequest, size int) int {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	stream, err := secretv3.NewSecretDiscoveryServiceClient(dialUnix(b, sock)).StreamSecrets(ctx)
	if err != nil {
		b.Fatal(err)
	}
	node := &corev3.Node{Id: "attacker"}
	for i := range requests {
		req := &discoveryv3.DiscoveryRequest{Node: node, TypeUrl: secretTypeURL, ResourceNames: unknownNames(i, perRequest, size)}
		if err := stream.Send(req); err != nil {
			break // the daemon ended the stream; Recv returns why
		}
	}
	_ = stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: secretTypeURL, ResourceNames: []string{"default"}})
	resp, err := stream.Recv()
	switch {
	case status.Code(err) == codes.InvalidArgument:
		b.Logf("stream refused: %v", err)
		return 1
	case err != nil:
		b.Fatalf("stream: %v", err)
	case len(resp.Resources) != 1:
		b.Fatalf("response to \"default\" has %d resources", len(resp.Resources))
	}
	return 0
}

// sdsFetchAttack makes calls FetchSecrets calls of perRequest unknown
// names each and returns how many were refused with InvalidArgument; the
// others must fail with NotFound.
func sdsFetchAttack(b *testing.B, sock string, calls, perRequest, size int) int {
	b.Helper()
	client := secretv3.NewSecretDiscoveryServiceClient(dialUnix(b, sock))
	refused, longest := 0, 0
	for i := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := client.FetchSecrets(ctx, &discoveryv3.DiscoveryRequest{TypeUrl: secretTypeURL, ResourceNames: unknownNames(i, perRequest, size)})
		cancel()
		switch status.Code(err) {
		case codes.InvalidArgument:
			refused++
		case codes.NotFound:
		default:
			b.Fatalf("FetchSecrets %d: %v, want NotFound or InvalidArgument", i, err)
		}
		longest = max(longest, len(status.Convert(err).Message()))
	}
	b.ReportMetric(float64(longest), "error-bytes")
	return refused
}

// jwtAttack makes calls FetchJWTSVID calls, each with perRequest unique
// audiences of size bytes, calling progress (if not nil) after each; it
// returns how many were refused with InvalidArgument.
func jwtAttack(b *testing.B, sock string, calls, perRequest, size int, progress func(done int)) int {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	client, err := workloadapi.New(ctx, workloadapi.WithAddr("unix://"+sock))
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	refused := 0
	for i := range calls {
		aud := unknownNames(i, perRequest, size)
		_, err := client.FetchJWTSVID(ctx, jwtsvid.Params{Audience: aud[0], ExtraAudiences: aud[1:]})
		switch {
		case status.Code(err) == codes.InvalidArgument:
			refused++
		case err != nil:
			b.Fatalf("FetchJWTSVID %d: %v", i, err)
		}
		if progress != nil {
			progress(i + 1)
		}
	}
	return refused
}

// buildBinaries builds the named daemons (cmd/<name>) with the flags of
// the Taskfile's build task, so that the figures are those of the shipped
// binaries, into a temporary directory it returns as svidkit-<name>.
// Without the go toolchain in PATH it skips, except under CI, where it
// fails.
func buildBinaries(tb testing.TB, names ...string) string {
	tb.Helper()
	return gobuild.Binaries(tb, names...)
}
