package reloader

import (
	"path/filepath"

	"github.com/fsnotify/fsnotify"
)

// watchDir watches the pid file's directory, which may not exist yet;
// watching the directory rather than the file catches a file that is
// created late or replaced by rename. On failure it retries after
// PIDFileRetry. Once watching, it checks the file, which may have changed
// while it was not watched.
func (l *loop) watchDir() {
	dir := filepath.Dir(l.cfg.PIDFile)
	if err := l.watcher.Add(dir); err != nil {
		l.cfg.Log.Debug("cannot watch pid file directory yet", "dir", dir, "error", err)
		l.retry.reset(l.cfg.PIDFileRetry)
		return
	}
	l.settle.reset(l.cfg.PIDFileSettle)
}

// onWatchEvent handles one event from the directory watch.
func (l *loop) onWatchEvent(ev fsnotify.Event) {
	dir := filepath.Dir(l.cfg.PIDFile)
	switch filepath.Clean(ev.Name) {
	case dir:
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			// The directory went away; its watch is gone with it.
			_ = l.watcher.Remove(dir)
			l.retry.reset(l.cfg.PIDFileRetry)
		}
	case l.cfg.PIDFile:
		if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Write) {
			l.settle.reset(l.cfg.PIDFileSettle)
		}
	}
}
