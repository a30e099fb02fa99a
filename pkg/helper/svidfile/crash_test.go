package svidfile_test

import (
	"bufio"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/helper/svidfile"
)

const crashEnv = "SVIDFILE_CRASH_DIR"

// TestCrashLeavesCompleteSet SIGKILLs a writer process at random moments
// and checks that the set on disk is always complete and consistent, and
// that the next Writer cleans up after the crash.
func TestCrashLeavesCompleteSet(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(t, dir)
		return
	}
	const kills = 60
	dir := memDir(t)
	staleSeen := 0
	for i := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLeavesCompleteSet$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan error, 1)
		go func() {
			_, err := bufio.NewReader(out).ReadString('\n') // "ready" after the first write
			ready <- err
		}()
		select {
		case err := <-ready:
			if err != nil {
				t.Fatalf("kill %d: child failed before its first write: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("kill %d: child not ready", i)
		}
		// The random moment of the crash, somewhere inside the write loop.
		<-time.After(time.Duration(rand.IntN(3000)) * time.Microsecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()

		if len(versions(t, dir)) > 1 {
			staleSeen++
		}
		for name, read := range map[string]func(string) ([]byte, []byte, error){"data link": readSet, "visible link": readVisible} {
			cert, key, err := read(dir)
			if err != nil {
				t.Fatalf("kill %d: read via %s: %v", i, name, err)
			}
			if err := checkPair(cert, key); err != nil {
				t.Fatalf("kill %d: set via %s is not consistent", i, name)
			}
		}
		w, err := svidfile.New(dir, svidfile.Options{})
		if err != nil {
			t.Fatalf("kill %d: New after crash: %v", i, err)
		}
		if v := versions(t, dir); len(v) != 1 {
			t.Fatalf("kill %d: versions after New = %v", i, v)
		}
		if _, err := w.Repair(); err != nil {
			t.Fatalf("kill %d: repair: %v", i, err)
		}
		if ok, err := w.Intact(); !ok || err != nil {
			t.Fatalf("kill %d: Intact = %v, %v", i, ok, err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d kills, %d left a stale version directory behind", kills, staleSeen)
}

// crashChild writes sets in a loop until it is killed.
func crashChild(t *testing.T, dir string) {
	w, err := svidfile.New(dir, svidfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pairs := make([]pair, 4)
	for i := range pairs {
		pairs[i] = newPair(t)
	}
	if _, err := w.Write(pairs[0].set()); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("ready\n")
	for i := 1; ; i++ {
		files := pairs[i%len(pairs)].set()
		if i%3 == 0 { // vary the set's names too
			files = append(files, svidfile.File{Name: "extra.pem", Data: files[1].Data, Mode: 0o644})
		}
		if _, err := w.Write(files); err != nil {
			t.Fatal(filepath.Base(dir), err)
		}
	}
}
