package cliargs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/spf13/cobra"
	"github.com/svidkit/svidkit/pkg/cliargs"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"empty", nil, []string{}},
		{"single-dash long flag", []string{"-socketPath", "/tmp/a.sock"}, []string{"--socketPath", "/tmp/a.sock"}},
		{"single-dash long flag with value", []string{"-spiffeID=spiffe://x/y"}, []string{"--spiffeID=spiffe://x/y"}},
		{"double dash kept", []string{"--socketPath", "x"}, []string{"--socketPath", "x"}},
		{"help short kept", []string{"-h"}, []string{"-h"}},
		{"single letter with value kept", []string{"-v=1"}, []string{"-v=1"}},
		{"negative integer kept", []string{"-ttl", "-5"}, []string{"--ttl", "-5"}},
		{"negative float kept", []string{"-1.5"}, []string{"-1.5"}},
		{"lone dash kept", []string{"-"}, []string{"-"}},
		{"subcommands and values kept", []string{"entry", "create", "-selector", "unix:uid:0", "-node"},
			[]string{"entry", "create", "--selector", "unix:uid:0", "--node"}},
		{"after terminator kept", []string{"-config", "c", "--", "-socketPath", "-x"},
			[]string{"--config", "c", "--", "-socketPath", "-x"}},
		{"path-like value kept", []string{"-/tmp/file"}, []string{"-/tmp/file"}},
		{"digit-led name kept", []string{"-1abc"}, []string{"-1abc"}},
		{"dashed name", []string{"-output-format=json"}, []string{"--output-format=json"}},
		{"equals value may hold anything", []string{"-data=/a b/-c"}, []string{"--data=/a b/-c"}},
		{"empty name with value kept", []string{"-=x"}, []string{"-=x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			got := cliargs.Normalize(tc.in)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if !slices.Equal(in, tc.in) {
				t.Errorf("Normalize modified its input: %q", tc.in)
			}
		})
	}
}

func TestExecute(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"single-dash flag reaches cobra", []string{"greet", "-name", "svidkit"}, 0, "hello svidkit\n", ""},
		{"double-dash flag", []string{"greet", "--name=x"}, 0, "hello x\n", ""},
		{"command error gives exit 1", []string{"greet", "-name", ""}, 1, "", "Error: -name is required\n"},
		{"unknown flag gives exit 1", []string{"greet", "-nmae", "x"}, 1, "", "Error: unknown flag: --nmae\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var name string
			greet := &cobra.Command{
				Use: "greet",
				RunE: func(cmd *cobra.Command, _ []string) error {
					if name == "" {
						return errors.New("-name is required")
					}
					fmt.Fprintf(cmd.OutOrStdout(), "hello %s\n", name)
					return nil
				},
			}
			greet.Flags().StringVar(&name, "name", "", "who")
			root := &cobra.Command{Use: "t", SilenceUsage: true}
			root.AddCommand(greet)
			var out, errOut bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&errOut)
			code := cliargs.Execute(context.Background(), root, tc.args)
			if code != tc.wantCode || out.String() != tc.wantOut || errOut.String() != tc.wantErr {
				t.Errorf("Execute(%q) = %d, stdout %q, stderr %q; want %d, %q, %q",
					tc.args, code, out.String(), errOut.String(), tc.wantCode, tc.wantOut, tc.wantErr)
			}
		})
	}
}
