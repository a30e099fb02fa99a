package procid

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// startTimeField is the position of starttime in /proc/<pid>/stat,
// counting from 1 as proc(5) does.
const startTimeField = 22

// parseStartTime returns the start time, in clock ticks after boot, from
// the content of /proc/<pid>/stat. The second field, the command name in
// parentheses, may itself contain spaces and parentheses, so the fields
// are counted from the last ')'.
func parseStartTime(stat []byte) (uint64, error) {
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
			return 0, fmt.Errorf("only %d fields, want %d", field-1, startTimeField)
		}
		if field == startTimeField {
			v, err := strconv.ParseUint(string(rest[:end]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("field %d: %w", startTimeField, err)
			}
			return v, nil
		}
		rest = rest[end:]
	}
}
