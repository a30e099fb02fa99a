package hcldecode

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/token"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{"ok", "a = 1\n", ""},
		{"empty", "", ""},
		{"json", ` {"a": 1}`, "f.hcl: JSON configuration is not supported; write the file in HCL"},
		{"syntax", "a = = 1\n", "f.hcl:1:"},
		{"syntax position", "a = 1\nb = [\n", "syntax error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := Parse("f.hcl", []byte(tt.in))
			if tt.wantErr == "" {
				if err != nil || list == nil {
					t.Fatalf("Parse() = %v, %v; want a list", list, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse() error = %v; want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

type target struct {
	s  string
	n  int
	b  bool
	d  time.Duration
	l  []string
	in string
}

func decode(t *testing.T, src string, unsupported map[string]bool) (target, []string) {
	t.Helper()
	list, err := Parse("f.hcl", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	var v target
	d := &Decoder{File: "f.hcl"}
	d.Block("test block", list, map[string]Field{
		"s": d.String(&v.s),
		"n": d.Int(&v.n),
		"b": d.Bool(&v.b),
		"d": d.Duration(&v.d),
		"l": d.StringList(&v.l),
		"o": func(it *ast.ObjectItem) {
			if body, ok := d.Object(it); ok {
				d.Block("o block", body, map[string]Field{"in": d.String(&v.in)}, nil)
			}
		},
		"w": func(it *ast.ObjectItem) { d.Warnf(it.Pos(), "w is noted") },
	}, unsupported)
	var errs []string
	if err := d.Err(); err != nil {
		errs = strings.Split(err.Error(), "\n")
	}
	return v, errs
}

func TestBlockAndFields(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    target
		wantErr []string
	}{
		{
			name: "all fields",
			src: `s = "x"
n = 42
b = true
d = "90s"
l = ["a", "b"]
o { in = "y" }
`,
			want: target{s: "x", n: 42, b: true, d: 90 * time.Second, l: []string{"a", "b"}, in: "y"},
		},
		{name: "number as string", src: `n = "7"`, want: target{n: 7}},
		{name: "single string list", src: `l = "a"`, want: target{l: []string{"a"}}},
		{name: "heredoc", src: "s = <<EOT\nhi\nEOT\n", want: target{s: "hi\n"}},
		{name: "quoted key", src: `"s" = "q"`, want: target{s: "q"}},
		{name: "unknown key", src: "\nzz = 1", wantErr: []string{`f.hcl:2: unknown key "zz" in test block`}},
		{name: "unsupported key", src: `spire = 1`, wantErr: []string{`f.hcl:1: key "spire" in test block is a SPIRE setting svidkit does not support yet`}},
		{name: "duplicate key", src: "s = \"a\"\ns = \"b\"", want: target{s: "a"}, wantErr: []string{`f.hcl:2: duplicate key "s" in test block`}},
		{name: "string wrong type", src: `s = 1`, wantErr: []string{`f.hcl:1: s: want a string, got 1`}},
		{name: "string not literal", src: `s = ["a"]`, wantErr: []string{`f.hcl:1: s: want a string`}},
		{name: "int wrong type", src: `n = true`, wantErr: []string{`f.hcl:1: n: want a number, got true`}},
		{name: "int bad string", src: `n = "x"`, wantErr: []string{`f.hcl:1: n: want a number, got "x"`}},
		{name: "bool wrong type", src: `b = "yes"`, wantErr: []string{`f.hcl:1: b: want true or false, got "yes"`}},
		{name: "duration not string", src: `d = 5`, wantErr: []string{`f.hcl:1: d: want a duration string such as "1h" or "90s", got 5`}},
		{name: "duration invalid", src: `d = "5"`, wantErr: []string{`f.hcl:1: d: invalid duration "5" (want e.g. "1h" or "90s")`}},
		{name: "duration negative", src: `d = "-1s"`, wantErr: []string{`f.hcl:1: d: invalid duration "-1s" (want e.g. "1h" or "90s")`}},
		{name: "list bad element", src: `l = ["a", 1]`, wantErr: []string{`f.hcl:1: l: want a list of strings`}},
		{name: "list wrong type", src: `l { x = 1 }`, wantErr: []string{`f.hcl:1: l: want a list of strings`}},
		{name: "object label", src: `o "lbl" { }`, wantErr: []string{`f.hcl:1: o: unexpected label "lbl"`}},
		{name: "object not block", src: `o = 1`, wantErr: []string{`f.hcl:1: o: want a block { ... }`}},
		{name: "nested unknown", src: "o {\n  zz = 1\n}", wantErr: []string{`f.hcl:2: unknown key "zz" in o block`}},
		{
			name:    "all errors reported",
			src:     "s = 1\nn = true\nzz = 1",
			wantErr: []string{`f.hcl:1: s: want a string, got 1`, `f.hcl:2: n: want a number, got true`, `f.hcl:3: unknown key "zz" in test block`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := decode(t, tt.src, map[string]bool{"spire": true})
			if !slices.Equal(errs, tt.wantErr) {
				t.Errorf("errors = %q; want %q", errs, tt.wantErr)
			}
			if got.s != tt.want.s || got.n != tt.want.n || got.b != tt.want.b || got.d != tt.want.d ||
				!slices.Equal(got.l, tt.want.l) || got.in != tt.want.in {
				t.Errorf("decoded %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestBlockNilUnsupported(t *testing.T) {
	_, errs := decode(t, `spire = 1`, nil)
	want := []string{`f.hcl:1: unknown key "spire" in test block`}
	if !slices.Equal(errs, want) {
		t.Errorf("errors = %q; want %q", errs, want)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name, file, src string
		want            []string
	}{
		{"one", "f.hcl", "\nw = 1\n", []string{"f.hcl:2: w is noted"}},
		{"none", "f.hcl", "s = \"x\"\n", nil},
		// Warnf is called in decoding order (z's warning first, then the
		// file-wide one); Warnings reports them in file order, the
		// unpositioned one last.
		{"file order, unpositioned last", "f.hcl", "w = 1\nz = 1\nw2 = 1\n", []string{
			"f.hcl:1: w is noted", "f.hcl:2: z is noted", "f.hcl:3: w is noted", "f.hcl: whole file is noted"}},
		{"no file name", "", "\nw = 1\n", []string{"w is noted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := Parse("f.hcl", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			d := &Decoder{File: tt.file}
			var later []func()
			warn := func(it *ast.ObjectItem) { d.Warnf(it.Pos(), "w is %s", "noted") }
			d.Block("b", list, map[string]Field{
				"s":  d.String(new(string)),
				"w":  func(it *ast.ObjectItem) { later = append(later, func() { warn(it) }) },
				"w2": func(it *ast.ObjectItem) { later = append(later, func() { warn(it) }) },
				"z": func(it *ast.ObjectItem) {
					d.Warnf(token.Pos{}, "whole file is noted")
					d.Warnf(it.Pos(), "z is noted")
				},
			}, nil)
			for _, f := range later {
				f()
			}
			if err := d.Err(); err != nil {
				t.Fatalf("Err() = %v", err)
			}
			if got := d.Warnings(); !slices.Equal(got, tt.want) {
				t.Errorf("Warnings() = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestBlockRepeat(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
		wantErr   []string
	}{
		{"repeated blocks in file order", "r { v = \"a\" }\nr { v = \"b\" }\n", []string{"a", "b"}, nil},
		{"once", "r { v = \"a\" }\n", []string{"a"}, nil},
		{"other keys stay single", "s = \"x\"\ns = \"y\"\n", nil, []string{`f.hcl:2: duplicate key "s" in b`}},
		{"unknown key", "zz = 1\n", nil, []string{`f.hcl:1: unknown key "zz" in b`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := Parse("f.hcl", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			d := &Decoder{File: "f.hcl"}
			var got []string
			d.BlockRepeat("b", list, map[string]Field{
				"s": d.String(new(string)),
				"r": func(it *ast.ObjectItem) {
					if body, ok := d.Object(it); ok {
						var v string
						d.Block("r", body, map[string]Field{"v": d.String(&v)}, nil)
						got = append(got, v)
					}
				},
			}, "r")
			var errs []string
			if err := d.Err(); err != nil {
				errs = strings.Split(err.Error(), "\n")
			}
			if !slices.Equal(errs, tt.wantErr) || !slices.Equal(got, tt.want) {
				t.Errorf("got %q, errors %q; want %q, %q", got, errs, tt.want, tt.wantErr)
			}
		})
	}
}

func TestNumbersAsStrings(t *testing.T) {
	tests := []struct {
		name, src string
		numbers   bool
		want      []string
		wantErr   string
	}{
		{"string refuses a number", "s = 123\n", false, nil, "f.hcl:1: s: want a string, got 123"},
		{"string takes a number", "s = 123\n", true, []string{"123"}, ""},
		{"single list value takes a number", "l = 0x1f\n", true, []string{"0x1f"}, ""},
		{"list elements stay strings", "l = [\"a\", 1]\n", true, nil, "f.hcl:1: l: want a list of strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := Parse("f.hcl", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			d := &Decoder{File: "f.hcl", NumbersAsStrings: tt.numbers}
			var s string
			var l []string
			d.Block("b", list, map[string]Field{"s": d.String(&s), "l": d.StringList(&l)}, nil)
			gotErr := ""
			if err := d.Err(); err != nil {
				gotErr = err.Error()
			}
			got := l
			if s != "" {
				got = []string{s}
			}
			if gotErr != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Errorf("got %q, error %q; want %q, %q", got, gotErr, tt.want, tt.wantErr)
			}
		})
	}
}

func TestKeyName(t *testing.T) {
	tests := []struct{ src, want string }{
		{`a = 1`, "a"},
		{`"b c" = 1`, "b c"},
	}
	for _, tt := range tests {
		list, err := Parse("f.hcl", []byte(tt.src))
		if err != nil {
			t.Fatal(err)
		}
		if got := KeyName(list.Items[0].Keys[0]); got != tt.want {
			t.Errorf("KeyName(%s) = %q; want %q", tt.src, got, tt.want)
		}
	}
}
