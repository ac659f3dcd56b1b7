package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"

	ucli "github.com/urfave/cli/v2"

	"github.com/omflow/omflow/config"
)

func (a *app) versionCommand() *ucli.Command {
	return &ucli.Command{
		Name:        "version",
		Usage:       "print the version, commit and Go version of this binary",
		UsageText:   "omflow version\n\nExample:\n   omflow version",
		Description: "Prints the release version, the source commit and the Go toolchain the binary was built with.",
		Action: func(c *ucli.Context) error {
			if err := checkArgs(c, 0, "no arguments"); err != nil {
				return err
			}
			_, err := fmt.Fprintf(c.App.Writer, "omflow %s\ncommit: %s\ngo: %s %s/%s\n", Version, commit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}

// commit is Commit, or the VCS revision recorded by the Go toolchain.
func commit() string {
	if Commit != "" {
		return Commit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				return s.Value
			}
		}
	}
	return "unknown"
}

func (a *app) configCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "config",
		Usage: "show, check and edit the settings file",
		UsageText: `omflow config COMMAND [options] [arguments...]

Examples:
   omflow config show --config /opt/omflow/server/etc/omflow.conf
   omflow config check --config omflow.conf
   omflow config set --config omflow.conf HTTP_PORT 9090`,
		Description: "Reads, validates and edits the TOML settings file; see the commands below.",
		Subcommands: []*ucli.Command{
			withSettings(&ucli.Command{
				Name:  "show",
				Usage: "print the effective settings as TOML, secrets hidden",
				UsageText: `omflow config show [--config FILE] [settings flags]

Example:
   OMFLOW_HTTP_PORT=9090 omflow config show --config omflow.conf`,
				Description: `Prints the settings after all layers (defaults, file, environment, flags) as a TOML
settings file with a comment per key. DB_PASSWORD, CLUSTER_KEY and ADMIN_PASSWORD are
shown as ********. Problems found by "config check" are listed on standard error.`,
				Action: a.withConfig(0, "no arguments", false, a.configShow),
			}),
			withSettings(&ucli.Command{
				Name:  "check",
				Usage: "validate the settings and list every problem",
				UsageText: `omflow config check [--config FILE] [settings flags]

Example:
   omflow config check --config /opt/omflow/booster/etc/omflow.conf`,
				Description: `Loads the settings like a starting process would and checks every value and the rules
between keys (ports, database engine, role, booster pair, cluster key). Exits with 0 when
the settings are valid, 2 when not, listing each problem with its key and how to fix it.`,
				Action: a.withConfig(0, "no arguments", true, a.configCheck),
			}),
			{
				Name:      "set",
				Usage:     "write one KEY = VALUE into the settings file",
				ArgsUsage: "KEY VALUE",
				UsageText: `omflow config set [--config FILE] KEY VALUE

Examples:
   omflow config set --config omflow.conf HTTP_PORT 9090
   omflow config set --config omflow.conf DB_ENGINE postgres
   omflow config set --config omflow.conf CLUSTER_KEY "$(omflow config genkey)"`,
				Description: `Checks KEY and VALUE, then rewrites the settings file keeping every other line and
comment; the key is added when absent and the file created (mode 0600) when missing. The
file is replaced atomically. Options go before KEY. ADMIN_PASSWORD cannot be written to
the file. Afterwards the whole file is checked and any problem is reported as a warning.`,
				Action: a.configSet,
			},
			{
				Name:      "genkey",
				Usage:     "print a new random CLUSTER_KEY",
				UsageText: "omflow config genkey\n\nExample:\n   omflow config set --config omflow.conf CLUSTER_KEY \"$(omflow config genkey)\"",
				Description: `Prints 32 random bytes in base64, suitable for CLUSTER_KEY. Every node of a cluster
needs the same key.`,
				Action: func(c *ucli.Context) error {
					if err := checkArgs(c, 0, "no arguments"); err != nil {
						return err
					}
					key, err := config.GenerateClusterKey()
					if err != nil {
						return err
					}
					_, err = fmt.Fprintln(c.App.Writer, key)
					return err
				},
			},
		},
	}
}

func (a *app) configShow(c *ucli.Context, cfg config.Config) error {
	if err := config.Show(cfg, c.App.Writer); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(c.App.ErrWriter, "warning: these settings are not valid:\n  %s\n", indentLines(err))
	}
	return nil
}

func (a *app) configCheck(c *ucli.Context, cfg config.Config) error {
	db := cfg.DBEngine
	if cfg.DBEngine == config.EngineSQLite {
		db += " " + cfg.SQLitePath()
	} else {
		db += " " + cfg.DBHost
	}
	_, err := fmt.Fprintf(c.App.Writer, "settings are valid (%s): role %s, database %s, web %s\n",
		describePath(a.configPath(c)), cfg.Role, db, cfg.HTTPAddr())
	return err
}

func (a *app) configSet(c *ucli.Context) error {
	if err := checkArgs(c, 2, "KEY and VALUE"); err != nil {
		return err
	}
	path := a.configPath(c)
	if path == "" {
		return usageErrorf("%sno settings file: pass --config FILE (the default %s does not exist)",
			label(c), a.defaultPath(c))
	}
	key, value := c.Args().Get(0), c.Args().Get(1)
	if err := config.Set(path, key, value); err != nil {
		var fe *config.FieldError
		var uk *config.UnknownKeyError
		if errors.As(err, &fe) || errors.As(err, &uk) {
			return &usageError{msg: err.Error(), err: err}
		}
		return err
	}
	shown := value
	if k, _ := config.LookupKey(key); k.Secret {
		shown = config.SecretMask
	}
	fmt.Fprintf(c.App.Writer, "%s set to %q in %s\n", key, shown, path)
	// Check the file on its own: the environment and flags are not part of it.
	noEnv := func(string) (string, bool) { return "", false }
	cfg, err := config.Load(config.LoadOptions{Path: path, LookupEnv: noEnv})
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(c.App.ErrWriter, "warning: %s is not valid yet:\n  %s\n", path, indentLines(err))
	}
	return nil
}

func (a *app) dbCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "db",
		Usage: "migrate the database schema or show its state",
		UsageText: `omflow db COMMAND [options]

Examples:
   omflow db migrate --config omflow.conf
   omflow db status --config omflow.conf`,
		Description: "Works on the database named by the DB_* settings.",
		Subcommands: []*ucli.Command{
			withSettings(&ucli.Command{
				Name:        "migrate",
				Usage:       "apply every pending schema migration",
				UsageText:   "omflow db migrate [--config FILE] [settings flags]\n\nExample:\n   omflow db migrate --config /opt/omflow/server/etc/omflow.conf",
				Description: "Creates or upgrades the tables. Safe to run on several nodes at once: one does the work, the others wait.",
				Action: a.withConfig(0, "no arguments", true, func(c *ucli.Context, cfg config.Config) error {
					if a.deps.DBMigrate == nil {
						return notAvailable("db migrate")
					}
					if err := a.deps.DBMigrate(c.Context, cfg); err != nil {
						return err
					}
					_, err := fmt.Fprintln(c.App.Writer, "database schema is up to date")
					return err
				}),
			}),
			withSettings(&ucli.Command{
				Name:        "status",
				Usage:       "list the schema migrations and whether each is applied",
				UsageText:   "omflow db status [--config FILE] [settings flags]\n\nExample:\n   omflow db status --config omflow.conf --db-host 10.0.0.20",
				Description: "Connects to the database and prints the applied and pending migrations.",
				Action: a.withConfig(0, "no arguments", true, func(c *ucli.Context, cfg config.Config) error {
					if a.deps.DBStatus == nil {
						return notAvailable("db status")
					}
					return a.deps.DBStatus(c.Context, cfg, c.App.Writer)
				}),
			}),
		},
	}
}

func (a *app) userCommand() *ucli.Command {
	passwordFlag := func() ucli.Flag {
		return &ucli.StringFlag{
			Name:  "password",
			Usage: "the password; other local users can see flags, prefer $OMFLOW_USER_PASSWORD or standard input",
		}
	}
	return &ucli.Command{
		Name:  "user",
		Usage: "add users and set passwords",
		UsageText: `omflow user COMMAND [options] USERNAME

Examples:
   omflow user add --config omflow.conf --admin --display-name "Site Admin" admin
   printf '%s\n' "$PW" | omflow user passwd --config omflow.conf alice`,
		Description: `The password comes from --password, else $OMFLOW_USER_PASSWORD, else standard input
(one line; on a terminal it is asked for twice without echo).`,
		Subcommands: []*ucli.Command{
			withSettings(&ucli.Command{
				Name:      "add",
				Usage:     "create a user",
				ArgsUsage: "USERNAME",
				UsageText: `omflow user add [--config FILE] [--display-name NAME] [--admin] [--group GROUP]... [--password PW] USERNAME

Examples:
   omflow user add --config omflow.conf --admin admin
   OMFLOW_USER_PASSWORD=s3cret omflow user add --config omflow.conf --display-name "Alice Ito" --group helpdesk alice`,
				Description: "Creates a user with a password, optionally an administrator, optionally in groups. Options go before USERNAME.",
				Flags: []ucli.Flag{
					passwordFlag(),
					&ucli.StringFlag{Name: "display-name", Usage: "the name shown in the UI (default: USERNAME)"},
					&ucli.BoolFlag{Name: "admin", Usage: "make the user an administrator"},
					&ucli.StringSliceFlag{Name: "group", Usage: "add the user to `GROUP` (repeat for several)"},
				},
				Action: a.withConfig(1, "USERNAME", true, func(c *ucli.Context, cfg config.Config) error {
					if a.deps.UserAdd == nil {
						return notAvailable("user add")
					}
					pw, err := a.password(c)
					if err != nil {
						return err
					}
					args := UserAddArgs{
						Username:    c.Args().First(),
						Password:    pw,
						DisplayName: c.String("display-name"),
						Admin:       c.Bool("admin"),
						Groups:      c.StringSlice("group"),
					}
					if args.DisplayName == "" {
						args.DisplayName = args.Username
					}
					if err := a.deps.UserAdd(c.Context, cfg, args); err != nil {
						return err
					}
					_, err = fmt.Fprintf(c.App.Writer, "user %s added\n", args.Username)
					return err
				}),
			}),
			withSettings(&ucli.Command{
				Name:      "passwd",
				Usage:     "set a user's password",
				ArgsUsage: "USERNAME",
				UsageText: `omflow user passwd [--config FILE] [--password PW] USERNAME

Examples:
   omflow user passwd --config omflow.conf alice          # asks on the terminal
   printf '%s\n' "$PW" | omflow user passwd --config omflow.conf alice`,
				Description: "Replaces the password of an existing user. Options go before USERNAME.",
				Flags:       []ucli.Flag{passwordFlag()},
				Action: a.withConfig(1, "USERNAME", true, func(c *ucli.Context, cfg config.Config) error {
					if a.deps.UserPasswd == nil {
						return notAvailable("user passwd")
					}
					pw, err := a.password(c)
					if err != nil {
						return err
					}
					if err := a.deps.UserPasswd(c.Context, cfg, c.Args().First(), pw); err != nil {
						return err
					}
					_, err = fmt.Fprintf(c.App.Writer, "password of %s changed\n", c.Args().First())
					return err
				}),
			}),
		},
	}
}

func (a *app) appCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "app",
		Usage: "import and export flow applications",
		UsageText: `omflow app COMMAND [options] ARG

Examples:
   omflow app import --config omflow.conf helpdesk.json
   omflow app export --config omflow.conf --out helpdesk.json helpdesk`,
		Description: "Moves flow applications (their flows and forms) between OMFLOW installations as files.",
		Subcommands: []*ucli.Command{
			withSettings(&ucli.Command{
				Name:        "import",
				Usage:       "import a flow application from a file",
				ArgsUsage:   "FILE",
				UsageText:   "omflow app import [--config FILE] FILE\n\nExample:\n   omflow app import --config omflow.conf helpdesk.json",
				Description: "Reads an exported application file, checks it and adds or updates the application. A bad file changes nothing.",
				Action: a.withConfig(1, "FILE", true, func(c *ucli.Context, cfg config.Config) error {
					file := c.Args().First()
					if !fileExists(file) {
						return usageErrorf("%s%s is not a readable file", label(c), file)
					}
					if a.deps.AppImport == nil {
						return notAvailable("app import")
					}
					return a.deps.AppImport(c.Context, cfg, file, c.App.Writer)
				}),
			}),
			withSettings(&ucli.Command{
				Name:      "export",
				Usage:     "export a flow application to a file or standard output",
				ArgsUsage: "ID",
				UsageText: `omflow app export [--config FILE] [--out FILE] ID

Examples:
   omflow app export --config omflow.conf helpdesk > helpdesk.json
   omflow app export --config omflow.conf --out helpdesk.json helpdesk`,
				Description: "Writes the application with the given ID or name. With --out the file appears only when the export is complete.",
				Flags: []ucli.Flag{
					&ucli.StringFlag{Name: "out", Usage: "write to `FILE` instead of standard output", TakesFile: true},
				},
				Action: a.withConfig(1, "ID", true, func(c *ucli.Context, cfg config.Config) error {
					if a.deps.AppExport == nil {
						return notAvailable("app export")
					}
					id, out := c.Args().First(), c.String("out")
					if out == "" {
						return a.deps.AppExport(c.Context, cfg, id, c.App.Writer)
					}
					return writeFileAtomic(out, func(w io.Writer) error {
						return a.deps.AppExport(c.Context, cfg, id, w)
					})
				}),
			}),
		},
	}
}

// writeFileAtomic creates path from what write produces, through a
// temporary file renamed into place only when write succeeds.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
