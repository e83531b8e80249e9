// Command hxdev runs the whole exchange on this machine for a person to try
// (services/dev/stack): hxdev up | status | down | env | with CMD [ARGS...].
// make up, make status and make down call it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"syscall"

	"healthexchange/services/dev/stack"
)

const usage = `usage: hxdev COMMAND
  up      start the network, MinIO and the four services (what is not running), wait until each is SERVING
  status  what runs where
  down    stop the services, MinIO and the network, and remove the network's state
  env     print the shell exports that point a script at the running exchange
  with CMD [ARGS...]  run CMD with the exchange up; stop the services this call started afterwards
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		os.Exit(exit.ExitCode())
	default:
		fmt.Fprintln(os.Stderr, "hxdev:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	s, err := stack.New(os.Stdout, os.Stderr)
	if err != nil {
		return err
	}
	switch args[0] {
	case "up":
		if _, err := s.Up(ctx); err != nil {
			return err
		}
		return s.Welcome()
	case "status":
		return s.Status(ctx)
	case "down":
		return s.Down(ctx)
	case "env":
		exports, err := stack.Exports()
		if err != nil {
			return err
		}
		keys := make([]string, 0, len(exports))
		for k := range exports {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Printf("export %s=%q\n", k, exports[k])
		}
		return nil
	case "with":
		if len(args) < 2 {
			return errors.New("with: no command to run")
		}
		return s.With(ctx, args[1:])
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
		return nil
	}
}
