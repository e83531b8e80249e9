// Command hxdemo tells the exchange's story against the running test network.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"healthexchange/services/dev/demo"
	"healthexchange/services/dev/devenv"
)

func main() {
	cfg := demo.Config{Out: os.Stdout}
	flag.StringVar(&cfg.NetworkFile, "network", devenv.DefaultPath(), "client description written by test-network/network.sh up")
	timeout := flag.Duration("timeout", 3*time.Minute, "give up after this long")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := demo.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "hxdemo:", err)
		os.Exit(1)
	}
}
