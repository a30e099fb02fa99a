// Package taskrun runs a daemon's long-lived parts together: each part is a
// Run(ctx) error function; the first failure (or panic) cancels the others,
// and Run returns once every part has returned.
package taskrun

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
)

// Task is one long-running part. It returns nil when ctx is cancelled.
type Task struct {
	// Name identifies the task in errors.
	Name string
	// Run runs until ctx ends or it fails.
	Run func(ctx context.Context) error
}

// Run starts every task and waits for all of them. When one task returns an
// error or panics, the context of the others is cancelled. A task returning
// nil before ctx ends does not stop the others. The returned error joins
// every task error, each prefixed with its task's name.
func Run(ctx context.Context, tasks ...Task) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, t := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := runOne(ctx, t); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", t.Name, err))
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func runOne(ctx context.Context, t Task) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return t.Run(ctx)
}
