package server

import (
	"slices"
	"sync"
	"testing"
)

func isWoken(w *waiter) bool {
	select {
	case <-w.woken():
		return true
	default:
		return false
	}
}

func TestWaiters(t *testing.T) {
	keys := func(k ...string) func(func(string) bool) { return slices.Values(k) }
	tests := []struct {
		name string
		// registered are the keys of each waiter, in order.
		registered [][]string
		// act changes the registry after the registrations.
		act func(r *waiters, ws []*waiter) int
		// wantWoken says which waiters must be woken, wantN how many act
		// reports, wantLeft how many stay registered.
		wantWoken []bool
		wantN     int
		wantLeft  int
	}{
		{
			name:       "wake one key wakes its waiters only",
			registered: [][]string{{"a"}, {"b"}, {"a", "c"}},
			act:        func(r *waiters, _ []*waiter) int { return r.wake(keys("a")) },
			wantWoken:  []bool{true, false, true}, wantN: 2, wantLeft: 1,
		},
		{
			name:       "waiter under several woken keys is woken once",
			registered: [][]string{{"a", "b"}, {"c"}},
			act:        func(r *waiters, _ []*waiter) int { return r.wake(keys("a", "b")) },
			wantWoken:  []bool{true, false}, wantN: 1, wantLeft: 1,
		},
		{
			name:       "duplicate keys in one registration",
			registered: [][]string{{"a", "a"}},
			act:        func(r *waiters, _ []*waiter) int { return r.wake(keys("a")) },
			wantWoken:  []bool{true}, wantN: 1, wantLeft: 0,
		},
		{
			name:       "unknown key wakes nothing",
			registered: [][]string{{"a"}},
			act:        func(r *waiters, _ []*waiter) int { return r.wake(keys("z")) },
			wantWoken:  []bool{false}, wantN: 0, wantLeft: 1,
		},
		{
			name:       "wakeAll wakes every waiter, with or without keys",
			registered: [][]string{{"a"}, {}, {"b", "c"}},
			act:        func(r *waiters, _ []*waiter) int { return r.wakeAll() },
			wantWoken:  []bool{true, true, true}, wantN: 3, wantLeft: 0,
		},
		{
			name:       "cancelled waiter is not woken",
			registered: [][]string{{"a"}, {"a"}},
			act: func(r *waiters, ws []*waiter) int {
				r.cancel(ws[0])
				return r.wake(keys("a"))
			},
			wantWoken: []bool{false, true}, wantN: 1, wantLeft: 0,
		},
		{
			name:       "cancel after the wake and twice is harmless",
			registered: [][]string{{"a"}, {"b"}},
			act: func(r *waiters, ws []*waiter) int {
				n := r.wake(keys("a"))
				r.cancel(ws[0])
				r.cancel(ws[1])
				r.cancel(ws[1])
				return n
			},
			wantWoken: []bool{true, false}, wantN: 1, wantLeft: 0,
		},
		{
			name:       "a woken waiter is gone: a second wake finds nothing",
			registered: [][]string{{"a"}},
			act: func(r *waiters, _ []*waiter) int {
				r.wake(keys("a"))
				return r.wake(keys("a"))
			},
			wantWoken: []bool{true}, wantN: 0, wantLeft: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r waiters
			ws := make([]*waiter, len(tt.registered))
			for i, k := range tt.registered {
				ws[i] = r.add(keys(k...))
			}
			if n := tt.act(&r, ws); n != tt.wantN {
				t.Errorf("woke %d, want %d", n, tt.wantN)
			}
			for i, w := range ws {
				if got := isWoken(w); got != tt.wantWoken[i] {
					t.Errorf("waiter %d (keys %v): woken %v, want %v", i, tt.registered[i], got, tt.wantWoken[i])
				}
			}
			if n := r.len(); n != tt.wantLeft {
				t.Errorf("%d waiters left, want %d", n, tt.wantLeft)
			}
			if tt.wantLeft == 0 && len(r.byKey) != 0 {
				t.Errorf("keys left behind: %v", r.byKey)
			}
		})
	}
	t.Run("woken waiter is woken at once", func(t *testing.T) {
		if !isWoken(wokenWaiter()) {
			t.Fatal("wokenWaiter not woken")
		}
	})
}

// TestWaitersConcurrent registers, wakes and cancels from many goroutines
// (run with -race): every waiter registered under a key woken after its
// registration is woken, and the registry ends empty.
func TestWaitersConcurrent(t *testing.T) {
	var r waiters
	const n = 200
	ws := make([]*waiter, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ws[i] = r.add(slices.Values([]string{"shared", string(rune('a' + i%26))}))
			if i%3 == 0 {
				r.cancel(ws[i])
			}
		})
	}
	wg.Wait()
	for i := range 26 {
		wg.Go(func() { r.wake(slices.Values([]string{string(rune('a' + i))})) })
	}
	wg.Go(func() { r.wake(slices.Values([]string{"shared"})) })
	wg.Wait()
	for i, w := range ws {
		if i%3 != 0 && !isWoken(w) {
			t.Errorf("waiter %d not woken", i)
		}
	}
	if r.len() != 0 || len(r.byKey) != 0 {
		t.Errorf("registry not empty: %d waiters, %d keys", r.len(), len(r.byKey))
	}
}
