// Package unixsock creates the listening Unix sockets of the svidkit
// daemons (the agent's Workload API socket, the server's admin socket,
// svidkit-sds's SDS sockets) with an explicit mode, in a directory that
// only the daemon's uid and root can change.
//
// Binding a socket and then calling chmod(2) on its path is unsafe: between
// the two calls, anyone who can write the directory can rename a symlink
// over the socket, and chmod follows it — a root daemon then makes any file
// world-writable. fchmod(2) on the socket's descriptor does not help on
// Linux (it changes the socket's own inode, not the file bind created),
// fchmodat(2) cannot refuse to follow a link before Linux 6.6, and changing
// the process-wide umask around bind races with every other goroutine
// creating files. Listen therefore:
//
//  1. resolves the socket's directory from / as the kernel does, and refuses
//     it when any directory looked up on the way (a symlink's directory
//     included) is owned by a uid other than root and the daemon's, or is
//     writable by group or others without the sticky bit (/tmp is fine; a
//     directory an attacker created in /tmp is not). Nobody else can then
//     rename, replace or add entries on the path: the checks cannot go
//     stale. The socket's own directory may be declared shared
//     (Config.SharedDir), which skips its check and logs a warning;
//  2. creates a fresh directory of its own, mode 0700, inside the socket's
//     directory, opens it without following links and verifies it belongs
//     to the daemon's uid, binds the socket in it, and sets the mode there
//     with fchmodat relative to that directory's descriptor. No other uid
//     can enter, add to or rename anything inside that directory, so the
//     name set is the socket just bound and nothing else;
//  3. renames the socket into place with renameat(2), which replaces a
//     stale socket atomically and never follows a link at the destination;
//  4. checks with lstat(2) that the path now names the very inode it bound
//     (device and inode number) and fails with ErrReplaced otherwise.
//
// A socket path may use all 107 bytes bind allows: when the temporary
// path is too long, Listen binds through /proc/self/fd/N/, which names the
// private directory by its descriptor.
//
// A client can only reach the socket once it is at its final path, where
// its mode is already set. Close removes the socket only while the path
// still names it.
//
// The package is a leaf: it imports no agent, server or SDS code.
package unixsock
