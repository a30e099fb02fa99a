package procid

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// UIDs are a process's user ids, as the Uid line of /proc/<pid>/status
// lists them.
type UIDs struct {
	Real, Effective, Saved, FS uint32
}

// parseUIDs returns the uids from the content of /proc/<pid>/status.
func parseUIDs(status []byte) (UIDs, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("Uid:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) != 4 {
			return UIDs{}, fmt.Errorf("uid line has %d fields, want 4", len(fields))
		}
		var ids [4]uint32
		for i, f := range fields {
			v, err := strconv.ParseUint(string(f), 10, 32)
			if err != nil {
				return UIDs{}, fmt.Errorf("uid line: %w", err)
			}
			ids[i] = uint32(v)
		}
		return UIDs{Real: ids[0], Effective: ids[1], Saved: ids[2], FS: ids[3]}, nil
	}
	if err := sc.Err(); err != nil {
		return UIDs{}, err
	}
	return UIDs{}, errors.New("no Uid line")
}
