package clikit

import (
	"errors"
	"flag"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseInterspersed(t *testing.T) {
	tests := map[string]struct {
		args     []string
		wantArgs []string
		wantFor  string
		wantErr  error
	}{
		"nothing":               {},
		"flag first":            {args: []string{"--for", "1h", "req-1"}, wantArgs: []string{"req-1"}, wantFor: "1h"},
		"flag last":             {args: []string{"req-1", "--for", "1h"}, wantArgs: []string{"req-1"}, wantFor: "1h"},
		"flag between":          {args: []string{"a", "-for=2h", "b"}, wantArgs: []string{"a", "b"}, wantFor: "2h"},
		"-- ends the flags":     {args: []string{"a", "--", "--for", "1h"}, wantArgs: []string{"a", "--for", "1h"}},
		"-- first":              {args: []string{"--", "-x", "-y"}, wantArgs: []string{"-x", "-y"}},
		"-- twice":              {args: []string{"a", "--", "--", "b"}, wantArgs: []string{"a", "--", "b"}},
		"-- as a flag's value":  {args: []string{"--for", "--", "a", "--for", "1h"}, wantArgs: []string{"a"}, wantFor: "1h"},
		"-- after a bool flag":  {args: []string{"--v", "--", "--for", "1h"}, wantArgs: []string{"--for", "1h"}},
		"a lone - is an arg":    {args: []string{"-", "--for", "1h"}, wantArgs: []string{"-"}, wantFor: "1h"},
		"the last flag wins":    {args: []string{"--for", "1h", "a", "--for", "2h"}, wantArgs: []string{"a"}, wantFor: "2h"},
		"--help":                {args: []string{"a", "--help"}, wantErr: flag.ErrHelp},
		"an unknown flag fails": {args: []string{"a", "--nope"}, wantErr: errAny},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			lasting := fs.String("for", "", "how long")
			fs.Bool("v", false, "verbose")
			args, err := ParseInterspersed(fs, tc.args)
			switch {
			case tc.wantErr == errAny && err != nil:
				return
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantArgs, args); diff != "" {
				t.Errorf("arguments (-want +got):\n%s", diff)
			}
			if *lasting != tc.wantFor {
				t.Errorf("--for %q, want %q", *lasting, tc.wantFor)
			}
		})
	}
}

// errAny stands for any error in a test table.
var errAny = errors.New("any error")

func TestArgCounts(t *testing.T) {
	tests := map[string]struct {
		check     func() error
		wantUsage bool
		wantMsg   string
	}{
		"NoArgs with none":     {check: func() error { return NoArgs(nil) }},
		"NoArgs with one":      {check: func() error { return NoArgs([]string{"x"}) }, wantUsage: true, wantMsg: "unexpected arguments [x]"},
		"OneArg with one":      {check: func() error { _, err := OneArg([]string{"x"}, "ID"); return err }},
		"OneArg with none":     {check: func() error { _, err := OneArg(nil, "ID"); return err }, wantUsage: true, wantMsg: "want exactly one ID"},
		"OneArg with two":      {check: func() error { _, err := OneArg([]string{"x", "y"}, "ID"); return err }, wantUsage: true, wantMsg: "want exactly one ID"},
		"Usagef wraps %w":      {check: func() error { return Usagef("bad: %w", io.EOF) }, wantUsage: true, wantMsg: "bad: EOF"},
		"another error is not": {check: func() error { return errors.New("the service is down") }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.check()
			var u usageError
			if errors.As(err, &u) != tc.wantUsage {
				t.Fatalf("error %v: usage error %v, want %v", err, !tc.wantUsage, tc.wantUsage)
			}
			if tc.wantUsage && err.Error() != tc.wantMsg {
				t.Errorf("message %q, want %q", err.Error(), tc.wantMsg)
			}
		})
	}
	if got, _ := OneArg([]string{"req-1"}, "ID"); got != "req-1" {
		t.Errorf("OneArg returned %q, want req-1", got)
	}
	if err := Usagef("bad: %w", io.EOF); !errors.Is(err, io.EOF) {
		t.Errorf("Usagef(%%w) does not wrap: %v", err)
	}
}
