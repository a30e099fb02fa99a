package helper

import (
	"context"
	"log/slog"

	"github.com/svidkit/svidkit/pkg/sockwatch"
)

// lazySocketWatch is one-shot mode's socket watch: it starts on the first
// call of start, i.e. after a failed attempt, and reports a socket that
// exists by then (it may have appeared since that attempt).
type lazySocketWatch struct {
	addr string
	log  *slog.Logger
	ctx  context.Context // bounds the watch

	w      *sockwatch.Watcher
	cancel context.CancelFunc
	done   chan struct{}
}

// start starts the watch unless it runs and returns its channel.
func (l *lazySocketWatch) start() <-chan struct{} {
	if l.w == nil {
		l.w = sockwatch.New(l.addr, sockwatch.WithLogger(l.log), sockwatch.ReportExisting())
		var ctx context.Context
		ctx, l.cancel = context.WithCancel(l.ctx)
		l.done = make(chan struct{})
		go func() {
			defer close(l.done)
			_ = l.w.Run(ctx)
		}()
	}
	return l.w.Changed()
}

// stop ends the watch, if started, and waits for it.
func (l *lazySocketWatch) stop() {
	if l.w != nil {
		l.cancel()
		<-l.done
	}
}
