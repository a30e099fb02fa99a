package svidfile_test

import (
	"fmt"
	"os"

	"github.com/svidkit/svidkit/pkg/helper/svidfile"
)

func Example() {
	dir, err := os.MkdirTemp("", "certs")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	w, err := svidfile.New(dir, svidfile.Options{Mode: svidfile.ModeAtomic})
	if err != nil {
		panic(err)
	}
	defer w.Close()

	set := []svidfile.File{
		{Name: "key.pem", Data: []byte("key v1"), Mode: 0o600},
		{Name: "cert.pem", Data: []byte("cert v1"), Mode: 0o644},
	}
	changed, err := w.Write(set)
	fmt.Println("first write changed:", changed, err)

	changed, err = w.Write(set)
	fmt.Println("same set changed:", changed, err)

	target, _ := os.Readlink(dir + "/cert.pem")
	fmt.Println("cert.pem ->", target)
	// Output:
	// first write changed: true <nil>
	// same set changed: false <nil>
	// cert.pem -> ..data/cert.pem
}
