// Command hxtoken is a development identity provider: it makes an Ed25519
// issuer key pair and prints signed bearer tokens that the services accept
// when configured with the public key. Its tokens are for demos and tests
// only; real users get theirs from their organisation's identity provider.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"healthexchange/services/auth"
	"healthexchange/services/auth/devissuer"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usageError is a mistake in the command line, as opposed to a failure
// while doing what it asked.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const usage = `usage: hxtoken <command> [flags]

Commands:
  keygen -dir DIR       write a new Ed25519 issuer key pair: DIR/issuer.key
                        (private, mode 0600) and DIR/issuer.pub (public)
  issue -key FILE ...   print a signed token (run "hxtoken issue -h")

Tokens from hxtoken are for demos and tests only.
`

// run executes one command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "keygen":
		err = keygen(rest, stdout)
	case "issue":
		err = issue(rest, stdout)
	default:
		fmt.Fprintf(stderr, "hxtoken: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "hxtoken %s: %v (see hxtoken %s -h)\n", args[0], err, args[0])
		return exitUsage
	default:
		fmt.Fprintf(stderr, "hxtoken %s: %v\n", args[0], err)
		return exitError
	}
}

// newFlagSet returns a silent flag set: parse reports its errors, and
// prints its usage to stdout only when asked with -h.
func newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: hxtoken %s %s\n\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses a subcommand's flags: -h prints the usage to stdout and
// returns flag.ErrHelp; a bad flag or a stray argument is a usage error.
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func keygen(args []string, stdout io.Writer) error {
	fs := newFlagSet("keygen", "-dir DIR")
	dir := fs.String("dir", "", "directory to write issuer.key (0600) and issuer.pub into; created if missing, existing keys are never overwritten (required)")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("-dir is required")
	}
	keyPath, pubPath, err := devissuer.GenerateFiles(*dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (private key, mode 0600: keep it secret)\nwrote %s (public key: give it to the services as a trusted issuer key)\n", keyPath, pubPath)
	return nil
}

func issue(args []string, stdout io.Writer) error {
	fs := newFlagSet("issue", "-key DIR/issuer.key -iss ISSUER -aud AUD -sub SUB -role ROLE [-org ORG] [-study S] [-ttl 1h]")
	var (
		keyPath = fs.String("key", "", "issuer private key written by keygen (required)")
		iss     = fs.String("iss", "", "issuer name, as the services are configured to trust it (required)")
		aud     = fs.String("aud", "", "audience: the service the token is for (required)")
		sub     = fs.String("sub", "", "subject: the user's id (required)")
		role    = fs.String("role", "", "one of "+roleList()+" (required)")
		org     = fs.String("org", "", "organisation MSP id, e.g. ProvidersMSP (required for every role but patient)")
		study   = fs.String("study", "", "study id (required for role researcher)")
		ttl     = fs.Duration("ttl", time.Hour, "how long the token is valid")
	)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	for _, req := range []struct{ name, value string }{{"key", *keyPath}, {"iss", *iss}, {"aud", *aud}, {"sub", *sub}, {"role", *role}} {
		if req.value == "" {
			return usagef("-%s is required", req.name)
		}
	}
	if *ttl <= 0 {
		return usagef("-ttl must be positive, got %v", *ttl)
	}
	claims := devissuer.Claims{Subject: *sub, Audience: *aud, Role: auth.Role(*role), Org: *org, StudyID: *study}
	if err := (auth.Principal{Subject: claims.Subject, Role: claims.Role, Org: claims.Org, StudyID: claims.StudyID}).Validate(); err != nil {
		return usageError{err.Error()}
	}
	issuer, err := devissuer.Load(*iss, *keyPath)
	if err != nil {
		return err
	}
	token, err := issuer.Issue(claims, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, token)
	return nil
}

func roleList() string {
	names := make([]string, 0, len(auth.Roles()))
	for _, r := range auth.Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}
