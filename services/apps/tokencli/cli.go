// Package tokencli is hxtoken, the development identity provider on the
// command line: it makes an Ed25519 issuer key pair and prints signed bearer
// tokens that the services accept when they trust the public key. Its
// tokens are for demos and tests only; real users get theirs from their
// organisation's identity provider. It never prints the private key.
package tokencli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"healthexchange/services/apps/internal/clikit"
	"healthexchange/services/dev/devenv"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/auth/devissuer"
)

// Run runs one command; the result is the process exit code (0 ok, 1 the
// command failed, 2 usage).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return app(stdout).Run(ctx, args, stderr)
}

func app(stdout io.Writer) *clikit.App {
	// The development network's identity providers, when it is up, give
	// the defaults: the one that speaks for --org (the patients' without).
	env, envErr := devenv.LoadDefault()
	return &clikit.App{
		Name:    "hxtoken",
		Summary: "a development identity provider: issuer keys and bearer tokens for demos and tests.",
		Commands: []clikit.Command{
			{Name: "keygen", Summary: "write a new Ed25519 issuer key pair", Args: "--dir DIR",
				Help:  "Write DIR/issuer.key (private, mode 0600) and DIR/issuer.pub (public); existing keys are never overwritten.",
				Flags: keygen(stdout)},
			{Name: "issue", Summary: "print a signed token",
				Args: "--sub SUB --role ROLE [--org ORG] [--study S] [--scope 'patient/Observation.rs ...' [--patient P]] [--ttl 1h] [--key FILE --iss ISSUER] [--aud AUD,AUD]",
				Help: "Print a token for SUB with ROLE, signed by an issuer key. When the development network is up (make up),\n" +
					"--key and --iss default to its identity provider for --org (each speaks for one organisation; the patients'\n" +
					"for tokens without one), and --aud to the services the role uses. Tokens live at most an hour.",
				Flags: issue(stdout, env, envErr)},
		},
		Footer: "Every command takes --help. Tokens from hxtoken are for demos and tests only.\nExit codes: 0 ok, 1 failed, 2 usage.\n",
	}
}

func keygen(stdout io.Writer) func(fs *flag.FlagSet) func(context.Context, []string) error {
	return func(fs *flag.FlagSet) func(context.Context, []string) error {
		dir := fs.String("dir", "", "directory to write issuer.key (0600) and issuer.pub into; created if missing")
		return func(_ context.Context, args []string) error {
			if err := clikit.NoArgs(args); err != nil {
				return err
			}
			if *dir == "" {
				return clikit.Usagef("--dir is required")
			}
			keyPath, pubPath, err := devissuer.GenerateFiles(*dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "wrote %s (private key, mode 0600: keep it secret)\nwrote %s (public key: give it to the services as a trusted issuer key)\n", keyPath, pubPath)
			return nil
		}
	}
}

func issue(stdout io.Writer, env devenv.Env, envErr error) func(fs *flag.FlagSet) func(context.Context, []string) error {
	return func(fs *flag.FlagSet) func(context.Context, []string) error {
		keyPath := fs.String("key", "", "issuer private key written by keygen (default: the development provider for --org)")
		iss := fs.String("iss", "", "issuer name, as the services are configured to trust it (default: as --key)")
		aud := fs.String("aud", "", "audiences, comma-separated: the services the token is for (default: those the role uses)")
		sub := fs.String("sub", "", "subject: the user's id (required)")
		role := fs.String("role", "", "one of "+roleList()+" (required)")
		org := fs.String("org", "", "organisation MSP id, e.g. ProvidersMSP (required for every role but patient)")
		study := fs.String("study", "", "study id (required for role researcher)")
		scope := fs.String("scope", "", "SMART on FHIR scopes, space-separated (patient/Observation.rs, user/*.cruds, ...?category=laboratory): the token is then an app's, allowed only what both its scopes and the patient's consents allow")
		patient := fs.String("patient", "", "the SMART launch context's patient, for patient/ scopes of a non-patient")
		ttl := fs.Duration("ttl", time.Hour, "how long the token is valid (the services accept at most an hour)")
		return func(_ context.Context, args []string) error {
			if err := clikit.NoArgs(args); err != nil {
				return err
			}
			if *keyPath == "" && *iss == "" {
				if envErr != nil {
					return fmt.Errorf("no --key and --iss, and no development network to take them from: %w", envErr)
				}
				idp, err := env.IdPFor(*org)
				if err != nil {
					return clikit.Usagef("%v", err)
				}
				*keyPath, *iss = idp.Key, idp.Issuer
			}
			audiences := devenv.AudiencesFor(*role)
			if *aud != "" {
				audiences = strings.Split(*aud, ",")
			}
			for _, req := range []struct{ name, value string }{{"key", *keyPath}, {"iss", *iss}, {"sub", *sub}, {"role", *role}} {
				if req.value == "" {
					return clikit.Usagef("--%s is required", req.name)
				}
			}
			if *ttl <= 0 {
				return clikit.Usagef("--ttl must be positive, got %v", *ttl)
			}
			claims := devissuer.Claims{Subject: *sub, Audiences: audiences, Role: auth.Role(*role), Org: *org, StudyID: *study,
				Scope: *scope, Patient: *patient}
			if err := (auth.Principal{Subject: claims.Subject, Role: claims.Role, Org: claims.Org, StudyID: claims.StudyID}).Validate(); err != nil {
				return clikit.Usagef("%v", err)
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
	}
}

func roleList() string {
	names := make([]string, 0, len(auth.Roles()))
	for _, r := range auth.Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}
