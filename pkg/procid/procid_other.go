//go:build !linux

package procid

// OpenPID fails: only Linux is supported.
func OpenPID(string, int32) (*Process, error) { return nil, ErrUnsupported }

func signalZero(int) error { return ErrUnsupported }

func readStartTime(string) (uint64, error) { return 0, ErrUnsupported }

func statID(string) (FileID, error) { return FileID{}, ErrUnsupported }
