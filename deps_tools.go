//go:build tools

// Package svidkit pins dependencies used across packages while they are being
// written; removed once every dependency is imported by real code.
package svidkit

import (
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/go-jose/go-jose/v4"
	_ "github.com/google/uuid"
	_ "github.com/hashicorp/hcl"
	_ "github.com/hashicorp/hcl/hcl/ast"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/spf13/cobra"
	_ "github.com/spf13/pflag"
	_ "github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	_ "github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	_ "github.com/spiffe/go-spiffe/v2/spiffegrpc/grpccredentials"
	_ "github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	_ "github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	_ "github.com/spiffe/go-spiffe/v2/svid/x509svid"
	_ "github.com/spiffe/go-spiffe/v2/workloadapi"
	_ "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	_ "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	_ "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	_ "github.com/spiffe/spire-api-sdk/proto/spire/api/server/svid/v1"
	_ "github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	_ "golang.org/x/sys/unix"
	_ "google.golang.org/grpc"
	_ "google.golang.org/grpc/health"
	_ "google.golang.org/protobuf/proto"
	_ "modernc.org/sqlite"
)
