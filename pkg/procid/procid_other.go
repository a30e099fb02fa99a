//go:build !linux

package procid

import "syscall"

// OpenPID fails: only Linux is supported.
func OpenPID(string, int32) (*Process, error) { return nil, ErrUnsupported }

func signalZero(int) error { return ErrUnsupported }

func pidfdSignal(int, syscall.Signal) error { return ErrUnsupported }

func kill(int32, syscall.Signal) error { return ErrUnsupported }

func readStatField(string, int) (uint64, error) { return 0, ErrUnsupported }

func statID(string) (FileID, error) { return FileID{}, ErrUnsupported }
