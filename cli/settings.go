package cli

import (
	"fmt"
	"os"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/omflow/omflow/config"
)

const settingsCategory = "SETTINGS (override the settings file; $OMFLOW_<KEY> does too)"

// configFlag is --config, added to every command. OMFLOW_CONFIG is read
// through Deps.LookupEnv like every other variable, not by urfave/cli.
func configFlag() ucli.Flag {
	return &ucli.StringFlag{
		Name:      "config",
		Usage:     "settings `FILE` (default /opt/omflow/<role>/etc/omflow.conf when it exists) [$OMFLOW_CONFIG]",
		TakesFile: true,
	}
}

// settingsFlags returns one flag per settings key, generated from the key
// table: --http-port for HTTP_PORT and so on. Every value is taken as text
// and parsed by config.Load, so a bad value gets the same error as in the file.
func settingsFlags() []ucli.Flag {
	var flags []ucli.Flag
	for _, k := range config.Keys() {
		usage := k.Help
		if k.Secret {
			usage += "; flags are visible to other local users, prefer the environment variable"
		}
		flags = append(flags, &ucli.StringFlag{
			Name:        k.FlagName(),
			Usage:       usage + " [$" + k.EnvVar() + "]",
			DefaultText: k.Default,
			Category:    settingsCategory,
		})
	}
	return flags
}

// withSettings appends the settings flags to a command that loads settings.
func withSettings(c *ucli.Command) *ucli.Command {
	c.Flags = append(c.Flags, settingsFlags()...)
	return c
}

// localFlag returns the value of a flag the user set on this command or on
// any command above it, the nearest one winning.
func localFlag(c *ucli.Context, name string) (string, bool) {
	for _, ctx := range c.Lineage() {
		for _, n := range ctx.LocalFlagNames() {
			if n == name {
				return ctx.String(name), true
			}
		}
	}
	return "", false
}

// configPath finds the settings file: --config, then $OMFLOW_CONFIG, then
// the role's default path when that file exists. "" means no file.
func (a *app) configPath(c *ucli.Context) string {
	if v, ok := localFlag(c, "config"); ok {
		return v
	}
	if v, ok := a.deps.LookupEnv("OMFLOW_CONFIG"); ok && v != "" {
		return v
	}
	if p := a.defaultPath(c); fileExists(p) {
		return p
	}
	return ""
}

// defaultPath is the installer's settings file for the role given by
// --role or $OMFLOW_ROLE (server when neither is set).
func (a *app) defaultPath(c *ucli.Context) string {
	role, ok := localFlag(c, "role")
	if !ok {
		role, _ = a.deps.LookupEnv("OMFLOW_ROLE")
	}
	return config.DefaultPath(role)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// withConfig makes an action that takes n arguments (described by names for
// the error) and the settings, validated when validate is set.
func (a *app) withConfig(n int, names string, validate bool, action func(*ucli.Context, config.Config) error) ucli.ActionFunc {
	return func(c *ucli.Context) error {
		if err := checkArgs(c, n, names); err != nil {
			return err
		}
		cfg, err := a.loadConfig(c, validate)
		if err != nil {
			return err
		}
		return action(c, cfg)
	}
}

// loadConfig builds the settings from the file, the environment and the
// settings flags, and validates them when asked. Errors are usage errors
// (exit code 2) and keep the config errors in their chain.
func (a *app) loadConfig(c *ucli.Context, validate bool) (config.Config, error) {
	path := a.configPath(c)
	flags := map[string]string{}
	for _, k := range config.Keys() {
		if v, ok := localFlag(c, k.FlagName()); ok {
			flags[k.Name] = v
		}
	}
	cfg, err := config.Load(config.LoadOptions{Path: path, LookupEnv: a.deps.LookupEnv, Flags: flags})
	if err != nil {
		return cfg, &usageError{msg: indentLines(err), err: err}
	}
	if validate {
		if err := cfg.Validate(); err != nil {
			return cfg, &usageError{msg: fmt.Sprintf("the settings are not valid (%s):\n  %s", describePath(path), indentLines(err)), err: err}
		}
	}
	return cfg, nil
}

func describePath(path string) string {
	if path == "" {
		return "no settings file"
	}
	return "settings file " + path
}

// indentLines indents the lines after the first, so the joined errors of
// config.Load and Validate read as a list under the first line.
func indentLines(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "\n  ")
}
