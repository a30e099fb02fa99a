package procid

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Fields of /proc/<pid>/stat, counting from 1 as proc(5) does.
const (
	ppidField      = 4
	startTimeField = 22
)

// statField returns numeric field n (n >= 3) from the content of
// /proc/<pid>/stat. The second field, the command name in parentheses, may
// itself contain spaces and parentheses, so the fields are counted from
// the last ')'.
func statField(stat []byte, n int) (uint64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	// The fields after the command name start with the third.
	rest := stat[i+1:]
	for field := 3; ; field++ {
		rest = bytes.TrimLeft(rest, " ")
		end := bytes.IndexAny(rest, " \n")
		if end < 0 {
			end = len(rest)
		}
		if end == 0 {
			return 0, fmt.Errorf("only %d fields, want %d", field-1, n)
		}
		if field == n {
			v, err := strconv.ParseUint(string(rest[:end]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("field %d: %w", n, err)
			}
			return v, nil
		}
		rest = rest[end:]
	}
}
