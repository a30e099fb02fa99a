package helperconfig

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// SplitArgs splits cmd_args into an argument vector exactly as
// spiffe-helper does: it reads the first record of the string as CSV with a
// space as the separator (encoding/csv, the reader spiffe-helper uses). So:
//
//   - every single space separates arguments, and two spaces in a row make an
//     empty argument between them; leading or trailing spaces make empty
//     first or last arguments;
//   - an argument that starts with a double quote runs to the matching
//     closing quote and may contain spaces; inside it, "" is one literal
//     double quote;
//   - a double quote anywhere else is an error;
//   - single quotes and backslashes are ordinary characters;
//   - only the first line is used (unless a newline is inside quotes); a
//     string of only line breaks is an error.
//
// An empty string gives no arguments.
func SplitArgs(s string) ([]string, error) {
	if s == "" {
		return []string{}, nil
	}
	r := csv.NewReader(strings.NewReader(s))
	r.Comma = ' '
	args, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("cmd_args holds only line breaks")
	}
	if err != nil {
		return nil, fmt.Errorf("split cmd_args: %w", err)
	}
	return args, nil
}

// extraLines reports whether s has text after the first CSV record, which
// spiffe-helper silently ignores.
func extraLines(s string) bool {
	r := csv.NewReader(strings.NewReader(s))
	r.Comma = ' '
	if _, err := r.Read(); err != nil {
		return false
	}
	_, err := r.Read()
	return !errors.Is(err, io.EOF)
}
