// Package cli builds the omflow command line: the role runner and the
// admin subcommands (version, config, db, user, app).
//
// It knows nothing about the packages that do the work: they plug in
// through the function fields of Deps, so this package imports only config.
// NewApp builds the urfave/cli application; main runs it and turns the
// error into an exit code with ExitCode.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/omflow/omflow/config"
)

// Version and Commit describe the build. Set them at link time:
//
//	go build -ldflags "-X github.com/omflow/omflow/cli.Version=1.2.0 -X github.com/omflow/omflow/cli.Commit=$(git rev-parse --short HEAD)"
var (
	Version = "dev"
	Commit  = ""
)

// Deps are the functions the commands call. A nil field makes its command
// fail with ErrNotAvailable, so a partial build still runs.
type Deps struct {
	// RunRole runs cfg.Role until ctx is cancelled (SIGINT or SIGTERM).
	RunRole    func(ctx context.Context, cfg config.Config) error
	DBMigrate  func(ctx context.Context, cfg config.Config) error
	DBStatus   func(ctx context.Context, cfg config.Config, w io.Writer) error
	UserAdd    func(ctx context.Context, cfg config.Config, args UserAddArgs) error
	UserPasswd func(ctx context.Context, cfg config.Config, username, password string) error
	AppImport  func(ctx context.Context, cfg config.Config, file string, w io.Writer) error
	AppExport  func(ctx context.Context, cfg config.Config, id string, w io.Writer) error
	// ClusterStatus prints the cluster status document of the node at addr
	// (IP:PORT; "" picks this node or BOOSTER).
	ClusterStatus func(ctx context.Context, cfg config.Config, addr string, w io.Writer) error

	// LookupEnv reads the environment for the settings layer and
	// OMFLOW_USER_PASSWORD; nil means os.LookupEnv. Tests replace it.
	LookupEnv func(name string) (string, bool)
}

// UserAddArgs are the arguments of `omflow user add`.
type UserAddArgs struct {
	Username    string
	Password    string
	DisplayName string
	Admin       bool
	Groups      []string
}

// ErrNotAvailable is returned by a command whose Deps function is nil.
var ErrNotAvailable = errors.New("not available in this build")

// ExitCode maps the error of App.Run to the process exit code: 0 for nil,
// 2 for usage and settings errors, the code of a urfave/cli ExitCoder, and
// 1 for every other (runtime) error.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec ucli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

// usageError is a mistake in the command line or the settings: exit code 2.
type usageError struct {
	msg string
	err error
}

func (e *usageError) Error() string { return e.msg }
func (e *usageError) Unwrap() error { return e.err }
func (e *usageError) ExitCode() int { return 2 }

func usageErrorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &usageError{msg: err.Error(), err: errors.Unwrap(err)}
}

// app holds what the commands share.
type app struct {
	deps Deps
}

// NewApp builds the omflow command line. The caller runs it with RunContext
// and a context cancelled on SIGINT/SIGTERM, and maps the error with
// ExitCode. Errors are returned, never printed or turned into os.Exit here.
func NewApp(deps Deps) *ucli.App {
	if deps.LookupEnv == nil {
		deps.LookupEnv = os.LookupEnv
	}
	a := &app{deps: deps}
	root := &ucli.App{
		Name:  "omflow",
		Usage: "form-based workflow server, booster, agent and slave in one binary",
		UsageText: `omflow [--config FILE] [--role ROLE] [settings flags]
omflow [--config FILE] COMMAND [command options] [arguments...]

Examples:
   omflow --config /opt/omflow/server/etc/omflow.conf              # run the standalone server
   omflow --config /opt/omflow/booster/etc/omflow.conf --role booster
   omflow --config omflow.conf config check`,
		Description: `Without a command, omflow runs the role chosen by ROLE (--role): "server" (web UI, REST API
and flow engine; standalone on SQLite when no booster is configured), "booster" (cluster
coordinator, an Active/Standby pair), "agent" (supervises the local server in a cluster) or
"slave" (agent and server joining an existing cluster). It stops cleanly on SIGINT or SIGTERM.

Settings are read in layers, each overriding the one before: built-in defaults, the settings
file (--config FILE or $OMFLOW_CONFIG; otherwise /opt/omflow/<role>/etc/omflow.conf when it
exists), environment variables OMFLOW_<KEY>, then the settings flags (--http-port for
HTTP_PORT). Run "omflow config show" to see the result.

Exit codes: 0 success, 1 runtime error, 2 wrong usage or invalid settings.`,
		HideVersion: true,
		Flags:       append([]ucli.Flag{configFlag()}, settingsFlags()...),
		Action:      a.runRole,
		Commands: []*ucli.Command{
			a.versionCommand(),
			a.configCommand(),
			a.dbCommand(),
			a.userCommand(),
			a.appCommand(),
			a.clusterCommand(),
		},
		// Errors go back to main; never let urfave/cli call os.Exit.
		ExitErrHandler: func(*ucli.Context, error) {},
	}
	root.OnUsageError = onUsageError
	for _, c := range root.Commands {
		prepare(c)
	}
	return root
}

// prepare adds --config to a command and its subcommands and makes their
// flag errors usage errors.
func prepare(c *ucli.Command) {
	c.Flags = append(c.Flags, configFlag())
	c.OnUsageError = onUsageError
	if len(c.Subcommands) > 0 && c.Action == nil {
		c.Action = missingSubcommand
	}
	for _, s := range c.Subcommands {
		prepare(s)
	}
}

func onUsageError(c *ucli.Context, err error, _ bool) error {
	return usageErrorf("%s%v (see '%s --help')", label(c), err, cmdPath(c))
}

func missingSubcommand(c *ucli.Context) error {
	var names []string
	for _, s := range c.Command.Subcommands {
		if s.Name != "help" {
			names = append(names, s.Name)
		}
	}
	if c.Args().Present() {
		return usageErrorf("%sunknown command %q; choose one of: %s", label(c), c.Args().First(), strings.Join(names, ", "))
	}
	return usageErrorf("%smissing command; choose one of: %s (see '%s --help')", label(c), strings.Join(names, ", "), cmdPath(c))
}

// cmdPath is the command line that reached c, e.g. "omflow config set".
func cmdPath(c *ucli.Context) string {
	var names []string
	for _, ctx := range c.Lineage() {
		if ctx.Command != nil && ctx.Command.Name != "" && ctx.App != nil && ctx.Command.Name != ctx.App.Name {
			names = append([]string{ctx.Command.Name}, names...)
		}
	}
	return strings.Join(append([]string{"omflow"}, names...), " ")
}

// label prefixes a message with the command it is about ("config set: "),
// or nothing for the root command; main adds "omflow: ".
func label(c *ucli.Context) string {
	p := strings.TrimPrefix(cmdPath(c), "omflow")
	if p == "" {
		return ""
	}
	return strings.TrimPrefix(p, " ") + ": "
}

// checkArgs fails with a usage error unless c has exactly n arguments.
func checkArgs(c *ucli.Context, n int, names string) error {
	if c.NArg() != n {
		return usageErrorf("%swant %s, got %d argument(s) (see '%s --help')", label(c), names, c.NArg(), cmdPath(c))
	}
	return nil
}

// notAvailable is the error of a command whose Deps function is nil.
func notAvailable(what string) error {
	return fmt.Errorf("%s: %w", what, ErrNotAvailable)
}

func (a *app) runRole(c *ucli.Context) error {
	if c.Args().Present() {
		return usageErrorf("unknown command %q (see 'omflow --help')", c.Args().First())
	}
	cfg, err := a.loadConfig(c, true)
	if err != nil {
		return err
	}
	if a.deps.RunRole == nil {
		return notAvailable("running a role")
	}
	return a.deps.RunRole(c.Context, cfg)
}
