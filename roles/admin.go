package roles

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"

	"github.com/omflow/omflow/cli"
	"github.com/omflow/omflow/config"
	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
)

// Commands returns the command-line operations that work on the database
// directly (db, user, app), for cli.Deps.
func Commands() cli.Deps {
	return cli.Deps{
		RunRole:    Run,
		DBMigrate:  DBMigrate,
		DBStatus:   DBStatus,
		UserAdd:    UserAdd,
		UserPasswd: UserPasswd,
		AppImport:  AppImport,
		AppExport:  AppExport,

		ClusterStatus: ClusterStatus,
	}
}

func withStore(ctx context.Context, cfg config.Config, fn func(*store.DB) error) error {
	log := NewLogger(cfg, os.Stderr)
	db, err := OpenStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db)
}

// withMigratedStore is withStore for commands that need the schema.
func withMigratedStore(ctx context.Context, cfg config.Config, fn func(*store.DB) error) error {
	return withStore(ctx, cfg, func(db *store.DB) error {
		v, err := db.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		if v < store.LatestSchema() {
			return fmt.Errorf("the database schema is at version %d, this omflow needs %d: run 'omflow db migrate' first", v, store.LatestSchema())
		}
		return fn(db)
	})
}

// DBMigrate applies pending migrations.
func DBMigrate(ctx context.Context, cfg config.Config) error {
	return withStore(ctx, cfg, func(db *store.DB) error {
		if err := db.Migrate(ctx); err != nil {
			return err
		}
		fmt.Printf("database is at schema version %d\n", store.LatestSchema())
		return nil
	})
}

// DBStatus prints the migrations and whether each is applied.
func DBStatus(ctx context.Context, cfg config.Config, w io.Writer) error {
	return withStore(ctx, cfg, func(db *store.DB) error { return db.WriteStatus(ctx, w) })
}

// UserAdd creates a user and puts them in the named groups.
func UserAdd(ctx context.Context, cfg config.Config, a cli.UserAddArgs) error {
	return withMigratedStore(ctx, cfg, func(db *store.DB) error {
		return db.Tx(ctx, func(ctx context.Context) error {
			u := &store.User{Username: a.Username, DisplayName: a.DisplayName, Admin: a.Admin}
			if err := db.CreateUser(ctx, u, a.Password); err != nil {
				return err
			}
			groups, err := db.Groups(ctx)
			if err != nil {
				return err
			}
			for _, name := range a.Groups {
				var gid int64
				for _, g := range groups {
					if g.Name == name || strconv.FormatInt(g.ID, 10) == name {
						gid = g.ID
					}
				}
				if gid == 0 {
					return fmt.Errorf("--group %q: no such group (create it in the UI or API first)", name)
				}
				if err := db.AddGroupMember(ctx, gid, u.ID); err != nil {
					return err
				}
			}
			fmt.Printf("created user %s (id %d)\n", u.Username, u.ID)
			return nil
		})
	})
}

// UserPasswd sets a user's password (and lifts a lock-out).
func UserPasswd(ctx context.Context, cfg config.Config, username, password string) error {
	return withMigratedStore(ctx, cfg, func(db *store.DB) error {
		u, err := db.UserByUsername(ctx, username)
		if err != nil {
			return err
		}
		if err := db.SetPassword(ctx, u.ID, password); err != nil {
			return err
		}
		if err := db.RecordLoginSuccess(ctx, u.ID); err != nil {
			return err
		}
		fmt.Printf("password of %s changed\n", username)
		return nil
	})
}

func offlineEngine(db *store.DB) *flow.Engine {
	return flow.New(db, flow.Options{Node: "cli", Logger: slog.New(slog.DiscardHandler), Hooks: flow.Hooks{JobsCommitted: func([]flow.JobRef) {}}})
}

// AppImport imports an OMFLOW app export file as the administrator.
func AppImport(ctx context.Context, cfg config.Config, file string, w io.Writer) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	return withMigratedStore(ctx, cfg, func(db *store.DB) error {
		res, err := offlineEngine(db).ImportApp(ctx, flow.System, data)
		if err != nil {
			var ie *flow.InputError
			if errors.As(err, &ie) && len(ie.Details) > 0 {
				for _, d := range ie.Details {
					fmt.Fprintf(w, "  - %s\n", d.Message)
				}
				return fmt.Errorf("%s was not imported: %d problems", file, len(ie.Details))
			}
			return fmt.Errorf("%s was not imported: %w", file, err)
		}
		fmt.Fprintf(w, "imported app %q (id %d)\n", res.App.Name, res.App.ID)
		for _, f := range res.Flows {
			state := "unchanged"
			if f.Changed {
				state = "new version"
			}
			fmt.Fprintf(w, "  flow %q api_path=%s id=%d version=%d (%s)\n", f.Name, f.APIPath, f.ID, f.Version, state)
		}
		for _, u := range res.Unmapped {
			fmt.Fprintf(w, "  note: permission name %q matches no group or role yet\n", u)
		}
		return nil
	})
}

// AppExport writes an app in OMFLOW's export format.
func AppExport(ctx context.Context, cfg config.Config, id string, w io.Writer) error {
	appID, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return fmt.Errorf("app id %q: want a number (see the Apps page or GET /api/v1/apps)", id)
	}
	return withMigratedStore(ctx, cfg, func(db *store.DB) error {
		data, err := offlineEngine(db).ExportApp(ctx, flow.System, appID)
		if err != nil {
			return err
		}
		_, err = w.Write(append(data, '\n'))
		return err
	})
}
