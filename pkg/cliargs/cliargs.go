// Package cliargs adapts SPIRE-style command lines to cobra. SPIRE's CLIs use
// Go's flag package, where long flags take one dash (-socketPath); pflag,
// under cobra, reads "-socketPath" as a cluster of short flags. Normalize
// rewrites such arguments to the double-dash form so SPIRE runbooks work
// unchanged.
package cliargs

// Normalize returns args with single-dash long flags ("-socketPath",
// "-spiffeID=x") rewritten to "--socketPath", "--spiffeID=x". It leaves
// alone: "-" and "--", single-letter flags ("-h", "-v=1"), negative numbers
// ("-5", "-1.5"), arguments that are not flag-shaped (a "-" followed by
// anything but a letter and then letters, digits, '_' or '-'), arguments
// already using "--", and everything after a "--" terminator. The input
// slice is not modified.
func Normalize(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		if isSingleDashLong(a) {
			out[i] = "-" + a
		}
	}
	return out
}

// isSingleDashLong reports whether a is "-name" or "-name=value" with a
// name of two or more characters that looks like a flag name.
func isSingleDashLong(a string) bool {
	if len(a) < 3 || a[0] != '-' || a[1] == '-' {
		return false
	}
	name := a[1:]
	for i := 0; i < len(name); i++ {
		if name[i] == '=' {
			name = name[:i]
			break
		}
	}
	if len(name) < 2 || !isLetter(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !isLetter(c) && !isDigit(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
