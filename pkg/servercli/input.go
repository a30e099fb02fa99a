package servercli

import (
	"fmt"
	"io"
	"os"
)

// maxInputBytes bounds what a command reads from a file or stdin (bundles,
// -data documents): far above any real bundle or batch, and the server
// refuses messages over 4 MiB anyway.
const maxInputBytes = 16 << 20

// readInput reads the file at path, or stdin when path is "-" (or empty
// and stdinWhenEmpty), for the flag named flag; errors name both.
func readInput(stdin io.Reader, flag, path string, stdinWhenEmpty bool) ([]byte, error) {
	var r io.Reader = stdin
	name := "stdin"
	if path != "-" && (path != "" || !stdinWhenEmpty) {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read -%s %q: %w", flag, path, err)
		}
		defer f.Close()
		r, name = f, fmt.Sprintf("-%s %q", flag, path)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxInputBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > maxInputBytes {
		return nil, fmt.Errorf("read %s: larger than %d bytes", name, maxInputBytes)
	}
	return data, nil
}
