package clikit

import (
	"flag"
	"fmt"
	"strings"
)

// ParseInterspersed parses flags that may come before or after the
// positional arguments (patient approve REQ --for 168h) and returns the
// positional arguments in order. Everything after "--" is positional.
func ParseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		// fs.Parse stops at a positional argument, or just after a "--"
		// (unless that "--" was the value of a flag: --token --).
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" && (used == 1 || !takesValue(fs, args[used-2])) {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
}

// takesValue reports that arg is a flag of fs, -name or --name, that takes
// the next argument as its value.
func takesValue(fs *flag.FlagSet, arg string) bool {
	name, ok := strings.CutPrefix(arg, "-")
	if !ok || strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(strings.TrimPrefix(name, "-"))
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// usageError is a mistake in the command line, as opposed to a failure
// while doing what it asked.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// Usagef is a mistake in the command line: the app prints it with the
// command's usage and exits 2.
func Usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// NoArgs is a usage error unless there are no positional arguments.
func NoArgs(args []string) error {
	if len(args) != 0 {
		return Usagef("unexpected arguments %v", args)
	}
	return nil
}

// OneArg returns the one positional argument, or a usage error that wants
// exactly one what.
func OneArg(args []string, what string) (string, error) {
	if len(args) != 1 {
		return "", Usagef("want exactly one %s", what)
	}
	return args[0], nil
}
