// Command omflow is the OMFLOW workflow server, booster, agent and slave in
// one binary. main only wires the parts into the command line (package cli),
// runs it and turns the result into an exit code: 0 ok, 1 runtime error,
// 2 usage or settings error.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/omflow/omflow/cli"
	"github.com/omflow/omflow/config"
	"github.com/omflow/omflow/store"
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

// deps plugs the packages that exist into the command line. Fields left nil
// answer "not available in this build".
func deps() cli.Deps {
	return cli.Deps{
		// Roles plug in here: replace this with the roles package's runner
		// (server, booster, agent, slave) once it exists.
		RunRole: func(ctx context.Context, cfg config.Config) error {
			return fmt.Errorf("role %q is not built yet", cfg.Role)
		},
		DBMigrate: func(ctx context.Context, cfg config.Config) error {
			db, err := openDB(ctx, cfg)
			if err != nil {
				return err
			}
			defer db.Close()
			return db.Migrate(ctx)
		},
		DBStatus: func(ctx context.Context, cfg config.Config, w io.Writer) error {
			db, err := openDB(ctx, cfg)
			if err != nil {
				return err
			}
			defer db.Close()
			return db.WriteStatus(ctx, w)
		},
		// UserAdd, UserPasswd, AppImport, AppExport: wire them when the
		// user and app services exist.
	}
}

// openDB opens the database named by the DB_* settings.
// TODO(roles): move to the roles package, which opens the store for the
// roles too, so there is one place that maps settings to store.Options.
func openDB(ctx context.Context, cfg config.Config) (*store.DB, error) {
	engine, err := store.ParseEngine(cfg.DBEngine)
	if err != nil {
		return nil, err
	}
	return store.Open(ctx, store.Options{
		Engine:   engine,
		Path:     cfg.SQLitePath(),
		Host:     cfg.DBHost,
		Port:     cfg.DBPort,
		Name:     cfg.DBName,
		User:     cfg.DBUser,
		Password: cfg.DBPassword,
		Params:   cfg.DBParams,
	})
}
