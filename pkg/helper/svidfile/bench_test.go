package svidfile_test

import (
	"testing"

	"github.com/svidkit/svidkit/pkg/helper/svidfile"
)

// Each iteration writes a changed three-file set (key, cert, bundle) with
// all fsyncs, alternating between two key pairs. The target is t.TempDir(),
// i.e. the real disk.
func BenchmarkWriteAtomic(b *testing.B) { benchWrite(b, b.TempDir(), svidfile.ModeAtomic, 2) }

// BenchmarkWriteAtomicTmpfs is BenchmarkWriteAtomic on tmpfs, where fsync
// is free: the difference to BenchmarkWriteAtomic is the cost of
// durability.
func BenchmarkWriteAtomicTmpfs(b *testing.B) { benchWrite(b, memDir(b), svidfile.ModeAtomic, 2) }

// BenchmarkWritePlain is BenchmarkWriteAtomic in plain mode.
func BenchmarkWritePlain(b *testing.B) { benchWrite(b, b.TempDir(), svidfile.ModePlain, 2) }

// BenchmarkWriteUnchanged measures the skip path: the set is compared with
// the disk and nothing is written.
func BenchmarkWriteUnchanged(b *testing.B) { benchWrite(b, b.TempDir(), svidfile.ModeAtomic, 1) }

func benchWrite(b *testing.B, dir string, mode svidfile.Mode, distinct int) {
	sets := make([][]svidfile.File, distinct)
	for i := range sets {
		sets[i] = newPair(b).set()
	}
	w := mustNew(b, dir, svidfile.Options{Mode: mode})
	if _, err := w.Write(sets[0]); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 1
	for b.Loop() {
		if _, err := w.Write(sets[i%distinct]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
