package k8s

import (
	"os"
	"sync"
	"time"
)

// reloadingFiles holds a value parsed from one or more files (the bearer
// token, the kubelet CA, a client certificate and key) and parses them again
// when any of them changes. Kubernetes rotates projected service-account
// tokens by swapping a symlink, so a changed inode, size or modification time
// of the file the path resolves to means new content. A stat per kubelet
// request is cheap next to the request itself, and needs no reload interval.
type reloadingFiles[T any] struct {
	paths []string
	parse func(contents [][]byte) (T, error)

	mu    sync.Mutex
	stats []fileStamp // of the files val was parsed from; nil before the first load
	val   T
}

// fileStamp identifies one version of a file.
type fileStamp struct {
	info    os.FileInfo
	size    int64
	modTime time.Time
}

func (s fileStamp) same(o fileStamp) bool {
	return os.SameFile(s.info, o.info) && s.size == o.size && s.modTime.Equal(o.modTime)
}

func newReloadingFiles[T any](parse func([][]byte) (T, error), paths ...string) *reloadingFiles[T] {
	return &reloadingFiles[T]{paths: paths, parse: parse}
}

// get returns the value parsed from the current contents of the files.
func (r *reloadingFiles[T]) get() (T, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	stats := make([]fileStamp, len(r.paths))
	unchanged := r.stats != nil
	for i, p := range r.paths {
		fi, err := os.Stat(p)
		if err != nil {
			var zero T
			return zero, err
		}
		stats[i] = fileStamp{info: fi, size: fi.Size(), modTime: fi.ModTime()}
		if unchanged && !stats[i].same(r.stats[i]) {
			unchanged = false
		}
	}
	if unchanged {
		return r.val, nil
	}
	contents := make([][]byte, len(r.paths))
	for i, p := range r.paths {
		b, err := os.ReadFile(p)
		if err != nil {
			var zero T
			return zero, err
		}
		contents[i] = b
	}
	v, err := r.parse(contents)
	if err != nil {
		var zero T
		return zero, err
	}
	r.stats, r.val = stats, v
	return v, nil
}
