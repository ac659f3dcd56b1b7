// Command omflow is the OMFLOW workflow server, booster, agent and slave in
// one binary. main only wires the parts into the command line (package cli),
// runs it and turns the result into an exit code: 0 ok, 1 runtime error,
// 2 usage or settings error.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/omflow/omflow/cli"
	"github.com/omflow/omflow/roles"
)

func main() {
	// The context ends on the first SIGINT or SIGTERM so the role can stop
	// cleanly; after that the default handling is restored, so a second
	// signal stops the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args))
}

func run(ctx context.Context, args []string) int {
	err := cli.NewApp(deps()).RunContext(ctx, args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "omflow: %v\n", err)
	}
	return cli.ExitCode(err)
}

// deps plugs the roles and the database commands into the command line.
func deps() cli.Deps { return roles.Commands() }
