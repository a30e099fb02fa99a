package svidfile_test

import (
	"errors"
	"io/fs"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/svidkit/svidkit/pkg/helper/svidfile"
)

// TestReadersNeverSeeMismatchedPair rotates 1,000 fresh key pairs while
// readers resolve the set once per read (via "..data" and via a visible
// symlink) and check that cert and key belong together.
func TestReadersNeverSeeMismatchedPair(t *testing.T) {
	const rotations = 1000
	pairs := make([]pair, rotations)
	for i := range pairs {
		pairs[i] = newPair(t)
	}
	dir := memDir(t)
	w := mustNew(t, dir, svidfile.Options{})
	mustWrite(t, w, pairs[0].set(), true)

	readers := []struct {
		name string
		read func(string) ([]byte, []byte, error)
	}{
		{"data link", readSet},
		{"visible link", readVisible},
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	type counts struct{ ok, torn, vanished, other atomic.Int64 }
	results := make([]*counts, len(readers))
	for i, r := range readers {
		c := &counts{}
		results[i] = c
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				cert, key, err := r.read(dir)
				switch {
				case errors.Is(err, fs.ErrNotExist):
					// The version was retired between resolving and
					// reading: the reader retries, it never mixes.
					c.vanished.Add(1)
				case err != nil:
					c.other.Add(1)
				case checkPair(cert, key) != nil:
					c.torn.Add(1)
				default:
					c.ok.Add(1)
				}
			}
		})
	}
	for i := 1; i < rotations; i++ {
		if _, err := w.Write(pairs[i].set()); err != nil {
			close(done)
			wg.Wait()
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	for i, r := range readers {
		c := results[i]
		t.Logf("%s: %d consistent reads, %d retried (version retired), %d torn", r.name, c.ok.Load(), c.vanished.Load(), c.torn.Load())
		if c.torn.Load() != 0 || c.other.Load() != 0 {
			t.Errorf("%s: %d torn or mismatched reads, %d other errors", r.name, c.torn.Load(), c.other.Load())
		}
		if c.ok.Load() == 0 {
			t.Errorf("%s: no successful read", r.name)
		}
	}
}

// TestCheckerDetectsMismatch makes sure the rotation test can fail: the
// reader's check rejects a certificate with another pair's key and
// truncated content.
func TestCheckerDetectsMismatch(t *testing.T) {
	p, q := newPair(t), newPair(t)
	tests := []struct {
		name      string
		cert, key []byte
		want      error
	}{
		{"matching", p.cert, p.key, nil},
		{"mixed pair", p.cert, q.key, errTorn},
		{"truncated cert", p.cert[:len(p.cert)/2], p.key, errTorn},
		{"empty key", p.cert, nil, errTorn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkPair(tt.cert, tt.key); !errors.Is(got, tt.want) {
				t.Fatalf("checkPair = %v, want %v", got, tt.want)
			}
		})
	}
}
