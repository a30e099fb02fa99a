package procid

import "testing"

func TestParseStartTime(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    uint64
		wantErr bool
	}{
		{name: "plain", stat: "42 (sleep) S 1 42 42 0 -1 4194304 100 0 0 0 1 1 0 0 20 0 1 0 98765 1000000 100 18446744073709551615\n", want: 98765},
		{name: "command with spaces and parentheses", stat: "7 (a) b (c) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0\n", want: 5},
		{name: "start time is the last field", stat: "7 (x) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123", want: 123},
		{name: "too few fields", stat: "7 (x) S 1 7 7\n", wantErr: true},
		{name: "no command", stat: "7 x S 1", wantErr: true},
		{name: "not a number", stat: "7 (x) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 soon 0\n", wantErr: true},
		{name: "empty", stat: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStartTime([]byte(tt.stat))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseStartTime = %d, want error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseStartTime = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}
