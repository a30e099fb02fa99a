// Package filelock takes exclusive, non-blocking flock(2) locks on files
// inside a directory without following symlinks, so that a daemon running
// as root never creates or opens a file elsewhere through a link planted
// by whoever can write that directory. The helper locks its target
// directory with it and the SQLite datastore its database.
package filelock
