//go:build !linux

package reloader

import "syscall"

// pidfdOpen reports ENOSYS: pidfds are Linux's.
func pidfdOpen(int) (int, error) { return -1, syscall.ENOSYS }

// pidfdSendSignal reports ENOSYS: pidfds are Linux's.
func pidfdSendSignal(int, syscall.Signal) error { return syscall.ENOSYS }
