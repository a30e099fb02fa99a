package helperconfig_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
)

// TestSplitArgs pins spiffe-helper's cmd_args splitting. The first three
// cases are spiffe-helper's own TestGetCmdArgs (pkg/sidecar), the quoting
// cases come from its README, the rest pin encoding/csv's behaviour with a
// space separator, which spiffe-helper relies on.
func TestSplitArgs(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty input", ``, []string{}},
		{"without quoted spaces", `-flag1 value1 -flag2 value2`, []string{"-flag1", "value1", "-flag2", "value2"}},
		{"with double quoted spaces", `-flag1 "value 1" -flag2 "value 2"`, []string{"-flag1", "value 1", "-flag2", "value 2"}},
		{"readme one argument", `"this is one argument"`, []string{"this is one argument"}},
		{"readme doubled quote", `"this is a single argument with ONE double-quote "" in it"`, []string{`this is a single argument with ONE double-quote " in it`}},
		{"readme single quotes not special", `-c 'echo hello world'`, []string{"-c", "'echo", "hello", "world'"}},
		{"readme shell with double quotes", `-c "echo hello"`, []string{"-c", "echo hello"}},
		{"single argument", `start_envoy.sh`, []string{"start_envoy.sh"}},
		{"two spaces give an empty argument", `a  b`, []string{"a", "", "b"}},
		{"leading space gives empty first", ` a`, []string{"", "a"}},
		{"trailing space gives empty last", `a `, []string{"a", ""}},
		{"only a space", ` `, []string{"", ""}},
		{"quoted empty argument", `a "" b`, []string{"a", "", "b"}},
		{"backslash is literal", `a\ b`, []string{`a\`, "b"}},
		{"backslash does not escape a quote", `"a\" b`, []string{`a\`, "b"}},
		{"tab is not a separator", "a\tb", []string{"a\tb"}},
		{"equals and commas kept", `--listen=localhost:8002 a,b`, []string{"--listen=localhost:8002", "a,b"}},
		{"only first line used", "a b\nc d", []string{"a", "b"}},
		{"crlf line end", "a b\r\n", []string{"a", "b"}},
		{"newline inside quotes kept", "\"a\nb\" c", []string{"a\nb", "c"}},
		{"leading blank lines skipped", "\n\na b", []string{"a", "b"}},
		{"ghostunnel example", `server --listen localhost:8002 --target localhost:8001 --keystore certs/svid_key.pem --allow-uri-san spiffe://example.org/Database`,
			[]string{"server", "--listen", "localhost:8002", "--target", "localhost:8001", "--keystore", "certs/svid_key.pem", "--allow-uri-san", "spiffe://example.org/Database"}},
		{"unicode", `héllo "wörld x"`, []string{"héllo", "wörld x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := helperconfig.SplitArgs(tt.in)
			if err != nil {
				t.Fatalf("SplitArgs(%q): %v", tt.in, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("SplitArgs(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestSplitArgsErrors pins the inputs spiffe-helper rejects.
func TestSplitArgsErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"bare quote inside argument", `a"b`, `bare " in non-quoted-field`},
		{"unterminated quote", `"abc`, `extraneous or missing " in quoted-field`},
		{"text after closing quote", `"a"b`, `extraneous or missing " in quoted-field`},
		{"only line breaks", "\n", "only line breaks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := helperconfig.SplitArgs(tt.in)
			if err == nil {
				t.Fatalf("SplitArgs(%q) = %q, want an error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("SplitArgs(%q) error %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}
