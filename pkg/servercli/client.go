package servercli

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Output formats accepted by -output.
const (
	outputPretty = "pretty"
	outputJSON   = "json"
)

// adminFlags are the flags every admin-socket command shares.
type adminFlags struct {
	socketPath string
	output     string
}

func (a *adminFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&a.socketPath, "socketPath", DefaultSocketPath, "Path to the SPIRE Server API socket")
	fs.StringVar(&a.output, "output", outputPretty, "Desired output format (pretty, json)")
}

// check reports a bad -output value.
func (a *adminFlags) check() error {
	switch a.output {
	case outputPretty, outputJSON:
		return nil
	}
	return fmt.Errorf("invalid -output %q: want pretty or json", a.output)
}

// dial connects to the admin socket. The connection is lazy: a missing
// socket shows up as an Unavailable error on the first call.
func (a *adminFlags) dial() (*grpc.ClientConn, error) {
	if a.socketPath == "" {
		return nil, fmt.Errorf("-socketPath must not be empty")
	}
	conn, err := grpc.NewClient("unix:"+a.socketPath, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("connect to server socket %q: %w", a.socketPath, err)
	}
	return conn, nil
}

// printJSON writes m as protojson with SPIRE's field names.
func printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode json output: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
