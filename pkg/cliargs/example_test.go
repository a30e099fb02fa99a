package cliargs_test

import (
	"fmt"

	"github.com/svidkit/svidkit/pkg/cliargs"
)

func ExampleNormalize() {
	args := []string{"entry", "create", "-spiffeID", "spiffe://example.org/web", "-selector", "unix:uid:1000", "-h"}
	fmt.Println(cliargs.Normalize(args))
	// Output: [entry create --spiffeID spiffe://example.org/web --selector unix:uid:1000 -h]
}
