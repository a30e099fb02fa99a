package procid

import "testing"

func TestStatField(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		field   int
		want    uint64
		wantErr bool
	}{
		{name: "plain", stat: "42 (sleep) S 1 42 42 0 -1 4194304 100 0 0 0 1 1 0 0 20 0 1 0 98765 1000000 100 18446744073709551615\n", field: startTimeField, want: 98765},
		{name: "command with spaces and parentheses", stat: "7 (a) b (c) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0\n", field: startTimeField, want: 5},
		{name: "start time is the last field", stat: "7 (x) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123", field: startTimeField, want: 123},
		{name: "parent", stat: "7 (a) 2) S 4321 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0\n", field: ppidField, want: 4321},
		{name: "too few fields", stat: "7 (x) S 1 7 7\n", field: startTimeField, wantErr: true},
		{name: "no command", stat: "7 x S 1", field: ppidField, wantErr: true},
		{name: "not a number", stat: "7 (x) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 soon 0\n", field: startTimeField, wantErr: true},
		{name: "empty", stat: "", field: startTimeField, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := statField([]byte(tt.stat), tt.field)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("statField = %d, want error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("statField = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}
