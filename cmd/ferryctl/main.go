package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/ferry-sdn/ferry/internal/cli"
)

func main() {
	// Ctrl-C ends `ferryctl wait` cleanly (the progress line is finished)
	// instead of killing the process mid-line.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.RunContext(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
