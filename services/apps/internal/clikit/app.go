// Package clikit is the scaffolding of the exchange's command-line apps
// (patient, clinician, researcher, wearable, hxtoken): a table of commands,
// each with its own flags that may come before or after its arguments, the
// app's usage and every command's --help, the exit codes (0 ok, 1 the
// command failed, 2 usage), and printing an answer as JSON or as text.
//
// It knows nothing of servers, keys or tokens: those stay with each app. It
// must never print a flag's value, only the usage, the defaults the app chose
// and the errors the commands return, so an app must never make a token or a
// key a flag's default.
package clikit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// App is a command-line app made of commands: NAME COMMAND [flags].
type App struct {
	// Name is the program's name, as the user types it ("patient").
	Name string
	// Summary follows "Name: " on the usage's first line.
	Summary string
	// Commands are the app's commands, in the order the usage lists them.
	Commands []Command
	// Footer ends the usage: the common flags, the exit codes.
	Footer string
	// Common, if set, defines the flags every command shares, before the
	// command's own.
	Common func(fs *flag.FlagSet)
}

// Command is one of an App's commands.
type Command struct {
	// Name is the command as the user types it ("grant").
	Name string
	// Summary is the command's line in the app's usage.
	Summary string
	// Args is the synopsis after "Usage: APP NAME" in the command's --help.
	Args string
	// Help says what the command does, in its --help.
	Help string
	// Flags defines the command's own flags on fs and returns what runs the
	// command once fs is parsed, with the positional arguments. A Usagef
	// error from it exits 2 with the command's usage, ErrReported exits 1
	// quietly, any other error is printed and exits 1.
	Flags func(fs *flag.FlagSet) func(ctx context.Context, args []string) error
}

// ErrReported is what a command returns when it has already told the user
// why it did not succeed (clinician verify: no match): the app exits 1 and
// prints nothing more.
var ErrReported = errors.New("already reported")

// Run runs the command args name, with the rest of args as its flags and
// arguments; the result is the process exit code (0 ok, 1 the command
// failed, 2 usage). The usage and errors go to stderr.
func (a *App) Run(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, a.usage())
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := a.command(args[0])
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n%s", a.Name, args[0], a.usage())
		return 2
	}
	fs := flag.NewFlagSet(a.Name+" "+cmd.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if a.Common != nil {
		a.Common(fs)
	}
	run := cmd.Flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s %s %s\n\n%s\n\nFlags:\n", a.Name, cmd.Name, cmd.Args, cmd.Help)
		fs.PrintDefaults()
	}
	positional, err := ParseInterspersed(fs, args[1:])
	if err != nil {
		// The flag package has printed the mistake and the usage.
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	err = run(ctx, positional)
	var u usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrReported):
		return 1
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "%s %s: %v\n", a.Name, cmd.Name, err)
		fs.Usage()
		return 2
	default:
		fmt.Fprintf(stderr, "%s %s: %v\n", a.Name, cmd.Name, err)
		return 1
	}
}

func (a *App) command(name string) (Command, bool) {
	for _, c := range a.Commands {
		if c.Name == name {
			return c, true
		}
	}
	return Command{}, false
}

// usage is the app's usage: its summary, the commands with theirs in a
// column two spaces past the longest name, and the footer.
func (a *App) usage() string {
	width := 0
	for _, c := range a.Commands {
		width = max(width, len(c.Name))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n\nUsage: %s COMMAND [flags]\n\nCommands:\n", a.Name, a.Summary, a.Name)
	for _, c := range a.Commands {
		fmt.Fprintf(&b, "  %-*s%s\n", width+2, c.Name, c.Summary)
	}
	if a.Footer != "" {
		fmt.Fprintf(&b, "\n%s", a.Footer)
	}
	return b.String()
}
