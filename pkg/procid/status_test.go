package procid

import "testing"

func TestParseUIDs(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    UIDs
		wantErr bool
	}{
		{name: "all differ", status: "Name:\tsleep\nUmask:\t0022\nState:\tS (sleeping)\nPPid:\t1\nUid:\t1000\t1001\t1002\t1003\nGid:\t0\t0\t0\t0\n", want: UIDs{Real: 1000, Effective: 1001, Saved: 1002, FS: 1003}},
		{name: "root", status: "Uid:\t0\t0\t0\t0\n", want: UIDs{}},
		{name: "nobody, last line without newline", status: "Name:\tx\nUid:\t65534\t65534\t65534\t65534", want: UIDs{65534, 65534, 65534, 65534}},
		{name: "no Uid line", status: "Name:\tx\nGid:\t0\t0\t0\t0\n", wantErr: true},
		{name: "too few uids", status: "Uid:\t0\t0\t0\n", wantErr: true},
		{name: "not a number", status: "Uid:\t0\tx\t0\t0\n", wantErr: true},
		{name: "beyond 32 bits", status: "Uid:\t4294967296\t0\t0\t0\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseUIDs([]byte(tt.status))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseUIDs = %+v, want error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseUIDs = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
