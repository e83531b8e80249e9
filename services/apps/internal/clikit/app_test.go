package clikit

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// got is what the test app's greet command was run with.
type got struct {
	ran   bool
	loud  bool
	token string
	args  []string
}

// testApp is an app whose greet command records what it was run with, and
// whose other commands fail in each of the ways a command can.
func testApp(g *got) *App {
	return &App{
		Name:    "hx",
		Summary: "a test app.",
		Common: func(fs *flag.FlagSet) {
			fs.StringVar(&g.token, "token", "", "your bearer token")
		},
		Commands: []Command{
			{Name: "greet", Summary: "say hello", Args: "[--loud] NAME...", Help: "Say hello to everyone named.",
				Flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
					loud := fs.Bool("loud", false, "shout")
					return func(_ context.Context, args []string) error {
						g.ran, g.loud, g.args = true, *loud, args
						return nil
					}
				}},
			{Name: "one", Summary: "take exactly one argument", Args: "THING", Help: "Take one thing.",
				Flags: func(*flag.FlagSet) func(context.Context, []string) error {
					return func(_ context.Context, args []string) error {
						_, err := OneArg(args, "THING")
						return err
					}
				}},
			{Name: "fail", Summary: "fail", Help: "Fail while doing it.",
				Flags: func(*flag.FlagSet) func(context.Context, []string) error {
					return func(context.Context, []string) error { return errors.New("the service is down") }
				}},
			{Name: "no-match", Summary: "answer no, already said", Help: "Say no itself.",
				Flags: func(*flag.FlagSet) func(context.Context, []string) error {
					return func(context.Context, []string) error { return ErrReported }
				}},
		},
		Footer: "Every command takes --help.\n",
	}
}

func TestRun(t *testing.T) {
	tests := map[string]struct {
		args       []string
		code       int
		wantRun    *got     // what greet ran with; nil: it did not run
		wantErr    []string // in stderr, in this order
		wantNotErr []string
	}{
		"flags before the arguments": {
			args: []string{"greet", "--loud", "ann", "bob"}, code: 0, wantRun: &got{ran: true, loud: true, args: []string{"ann", "bob"}},
		},
		"flags after and between the arguments": {
			args: []string{"greet", "ann", "--token", "t", "bob", "--loud"}, code: 0,
			wantRun: &got{ran: true, loud: true, token: "t", args: []string{"ann", "bob"}},
		},
		"everything after -- is an argument": {
			args: []string{"greet", "ann", "--", "--loud", "-x"}, code: 0, wantRun: &got{ran: true, args: []string{"ann", "--loud", "-x"}},
		},
		"no arguments": {
			args: []string{"greet"}, code: 0, wantRun: &got{ran: true},
		},
		"a usage error exits 2 with the command's usage": {
			args: []string{"one", "a", "b"}, code: 2,
			wantErr: []string{"hx one: want exactly one THING\n", "Usage: hx one THING\n\nTake one thing.\n\nFlags:\n", "-token"},
		},
		"a failure exits 1 with the error and no usage": {
			args: []string{"fail"}, code: 1, wantErr: []string{"hx fail: the service is down\n"}, wantNotErr: []string{"Usage:"},
		},
		"an answer already reported exits 1 quietly": {
			args: []string{"no-match"}, code: 1,
		},
		"--help after a command exits 0 with its flags": {
			args: []string{"greet", "--help"}, code: 0,
			wantErr: []string{"Usage: hx greet [--loud] NAME...\n\nSay hello to everyone named.\n\nFlags:\n", "-loud", "shout", "-token", "your bearer token"},
		},
		"-h after a command's arguments": {
			args: []string{"greet", "ann", "-h"}, code: 0, wantErr: []string{"Usage: hx greet"},
		},
		"an unknown flag exits 2": {
			args: []string{"greet", "--nope"}, code: 2, wantErr: []string{"flag provided but not defined: -nope", "Usage: hx greet"},
		},
		"a flag without its value exits 2": {
			args: []string{"greet", "ann", "--token"}, code: 2, wantErr: []string{"flag needs an argument: -token"},
		},
		"an unknown command exits 2 with the app's usage": {
			args: []string{"frobnicate"}, code: 2, wantErr: []string{`hx: unknown command "frobnicate"` + "\n\nhx: a test app.", "Commands:"},
		},
		"no command exits 2 with the app's usage": {
			args: nil, code: 2, wantErr: []string{"hx: a test app.", "Commands:"},
		},
		"help exits 0": {
			args: []string{"help"}, code: 0, wantErr: []string{"hx: a test app."},
		},
		"--help exits 0": {
			args: []string{"--help"}, code: 0, wantErr: []string{"hx: a test app."},
		},
		"a flag's value is never printed": {
			args: []string{"one", "--token", "s3cret-token", "a", "b"}, code: 2, wantNotErr: []string{"s3cret-token"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var g got
			var stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			code := testApp(&g).Run(ctx, tc.args, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			if tc.wantRun == nil {
				if g.ran {
					t.Errorf("greet ran with %+v", g)
				}
			} else if diff := cmp.Diff(*tc.wantRun, g, cmp.AllowUnexported(got{})); diff != "" {
				t.Errorf("greet ran with (-want +got):\n%s", diff)
			}
			rest := stderr.String()
			for _, w := range tc.wantErr {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("stderr lacks %q (in order):\n%s", w, stderr.String())
				}
				rest = rest[i+len(w):]
			}
			for _, w := range tc.wantNotErr {
				if strings.Contains(stderr.String(), w) {
					t.Errorf("stderr has %q:\n%s", w, stderr.String())
				}
			}
			if tc.code == 1 && tc.wantErr == nil && stderr.Len() != 0 {
				t.Errorf("stderr %q, want nothing", stderr.String())
			}
		})
	}
}

func TestUsageListsTheCommandsInOrder(t *testing.T) {
	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	testApp(&got{}).Run(ctx, []string{"help"}, &stderr)
	want := `hx: a test app.

Usage: hx COMMAND [flags]

Commands:
  greet     say hello
  one       take exactly one argument
  fail      fail
  no-match  answer no, already said

Every command takes --help.
`
	if diff := cmp.Diff(want, stderr.String()); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
}
