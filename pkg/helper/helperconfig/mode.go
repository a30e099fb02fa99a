package helperconfig

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// fileMode decodes a permission mode such as 0644. Numbers follow
// spiffe-helper's HCL decoding (leading 0 octal, 0x hex, else decimal); 0
// keeps the default, as in spiffe-helper. Values spiffe-helper would have
// silently truncated (decimal 644 is 0o1204) are errors that suggest the
// octal spelling, since no one means them.
func (d *decoder) fileMode(dst *os.FileMode) hcldecode.Field {
	return func(it *ast.ObjectItem) {
		key := hcldecode.KeyName(it.Keys[0])
		n, text, pos, ok := d.integer(it, "an octal file mode such as 0644")
		if !ok {
			return
		}
		// Three octal digits without a leading 0 (644, 444) were almost
		// certainly meant as octal.
		looksOctal := len(text) == 3 && isOctalDigits(text) && !strings.HasPrefix(text, "0")
		switch {
		case n < 0:
			d.Errorf(pos, "%s: file mode must be positive, got %s", key, text)
			return
		case n > 0o777 && looksOctal:
			d.Errorf(pos, "%s: %s is read as the decimal number %d, which is not a file mode; write 0%s for octal", key, text, n, text)
			return
		case n > 0o777:
			octal := fmt.Sprintf("%#o", n)
			if octal != text {
				text += " (" + octal + ")"
			}
			d.Errorf(pos, "%s: file mode %s has bits beyond 0777", key, text)
			return
		case n == 0:
			return // spiffe-helper treats 0 as "use the default"
		case looksOctal:
			d.Warnf(pos, "%s: %s is read as decimal, giving mode %#o; write 0%s if you meant octal", key, text, n, text)
		}
		*dst = os.FileMode(n)
	}
}

// isOctalDigits reports whether s is non-empty and all octal digits.
func isOctalDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '7' {
			return false
		}
	}
	return true
}
