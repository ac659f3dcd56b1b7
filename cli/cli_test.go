package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	ucli "github.com/urfave/cli/v2"

	"github.com/omflow/omflow/config"
)

type result struct {
	out, errOut string
	code        int
	err         error
}

// run executes the app in-process with args (without the program name).
// env is the whole environment the app sees.
func run(t *testing.T, deps Deps, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	deps.LookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	app := NewApp(deps)
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter, app.Reader = &out, &errOut, strings.NewReader(stdin)
	err := app.RunContext(context.Background(), append([]string{"omflow"}, args...))
	return result{out.String(), errOut.String(), ExitCode(err), err}
}

func confFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "omflow.conf")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExitCode(t *testing.T) {
	cases := map[int]error{
		0: nil,
		1: errors.New("boom"),
		2: usageErrorf("bad"),
		3: ucli.Exit("x", 3),
	}
	for want, err := range cases {
		if got := ExitCode(err); got != want {
			t.Errorf("ExitCode(%v) = %d, want %d", err, got, want)
		}
	}
	if ExitCode(fmt.Errorf("wrapped: %w", usageErrorf("bad"))) != 2 {
		t.Error("wrapped usage error is not 2")
	}
}

func TestConfigCheckBadFile(t *testing.T) {
	p := confFile(t, "HTTP_PORT = 70000\nDB_ENGINE = \"sqlite\"\n")
	r := run(t, Deps{}, nil, "", "config", "check", "--config", p)
	if r.code != 2 {
		t.Fatalf("exit code %d, want 2 (err %v)", r.code, r.err)
	}
	var fe *config.FieldError
	if !errors.As(r.err, &fe) || fe.Key != "HTTP_PORT" {
		t.Fatalf("error chain lacks the FieldError for HTTP_PORT: %v", r.err)
	}
	if msg := r.err.Error(); !strings.Contains(msg, "HTTP_PORT=70000") || !strings.Contains(msg, p) {
		t.Fatalf("message: %s", msg)
	}

	p = confFile(t, "# ok\nDB_PROT = 5432\n")
	r = run(t, Deps{}, nil, "", "config", "check", "--config", p)
	if r.code != 2 || !strings.Contains(r.err.Error(), "line 2: unknown key DB_PROT; did you mean DB_PORT?") {
		t.Fatalf("unknown key: code %d, %v", r.code, r.err)
	}

	r = run(t, Deps{}, nil, "", "config", "check", "--config", filepath.Join(t.TempDir(), "missing.conf"))
	if r.code != 2 || !strings.Contains(r.err.Error(), "does not exist") {
		t.Fatalf("missing file: code %d, %v", r.code, r.err)
	}

	p = confFile(t, "HTTP_PORT = 9000\n")
	r = run(t, Deps{}, nil, "", "config", "check", "--config", p)
	if r.code != 0 || !strings.Contains(r.out, "settings are valid") || !strings.Contains(r.out, ":9000") {
		t.Fatalf("valid file: code %d, %v, %q", r.code, r.err, r.out)
	}
}

func TestConfigSetThenShow(t *testing.T) {
	p := filepath.Join(t.TempDir(), "new.conf")
	for _, kv := range [][2]string{{"HTTP_PORT", "9090"}, {"DB_PASSWORD", "pa ss"}, {"LOG_LEVEL", "debug"}} {
		r := run(t, Deps{}, nil, "", "config", "set", "--config", p, kv[0], kv[1])
		if r.code != 0 {
			t.Fatalf("set %s: %d %v", kv[0], r.code, r.err)
		}
		if strings.Contains(r.out, "pa ss") {
			t.Fatalf("set echoed the secret: %q", r.out)
		}
	}
	r := run(t, Deps{}, nil, "", "config", "show", "--config", p)
	if r.code != 0 {
		t.Fatalf("show: %d %v", r.code, r.err)
	}
	for _, want := range []string{"\nHTTP_PORT = 9090 ", "\nLOG_LEVEL = \"debug\"", "\nDB_PASSWORD = \"********\""} {
		if !strings.Contains(r.out, want) {
			t.Errorf("show lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.out, "pa ss") {
		t.Fatal("show printed the password")
	}
	data, _ := os.ReadFile(p)
	if !strings.Contains(string(data), `DB_PASSWORD = "pa ss"`) {
		t.Fatalf("file: %s", data)
	}

	// A value that makes the file invalid as a whole is written with a warning.
	r = run(t, Deps{}, nil, "", "config", "set", "--config", p, "BOOSTER_IP", "10.0.0.1")
	if r.code != 0 || !strings.Contains(r.errOut, "warning") || !strings.Contains(r.errOut, "DB_ENGINE=sqlite") {
		t.Fatalf("set with warning: %d %v %q", r.code, r.err, r.errOut)
	}
	// Bad key and bad value are usage errors and change nothing.
	before, _ := os.ReadFile(p)
	for _, args := range [][]string{{"HTTP_PROT", "1"}, {"HTTP_PORT", "x"}, {"HTTP_PORT"}} {
		r = run(t, Deps{}, nil, "", append([]string{"config", "set", "--config", p}, args...)...)
		if r.code != 2 {
			t.Errorf("set %v: code %d (%v), want 2", args, r.code, r.err)
		}
	}
	if after, _ := os.ReadFile(p); !bytes.Equal(before, after) {
		t.Fatal("refused set changed the file")
	}
	r = run(t, Deps{}, nil, "", "config", "set", "HTTP_PORT", "1")
	if r.code != 2 || !strings.Contains(r.err.Error(), "no settings file") {
		t.Fatalf("set without file: %d %v", r.code, r.err)
	}
}

func TestSettingsLayersThroughCLI(t *testing.T) {
	p := confFile(t, "HTTP_PORT = 1000\nWORKERS = 2\n")
	env := map[string]string{"OMFLOW_HTTP_PORT": "2000", "OMFLOW_CONFIG": p}
	show := func(args ...string) string {
		t.Helper()
		r := run(t, Deps{}, env, "", args...)
		if r.code != 0 {
			t.Fatalf("%v: %d %v", args, r.code, r.err)
		}
		return r.out
	}
	if out := show("config", "show"); !strings.Contains(out, "HTTP_PORT = 2000 ") || !strings.Contains(out, "WORKERS = 2 ") {
		t.Fatalf("env over file ($OMFLOW_CONFIG):\n%s", out)
	}
	if out := show("config", "show", "--http-port", "3000"); !strings.Contains(out, "HTTP_PORT = 3000 ") {
		t.Fatalf("flag over env:\n%s", out)
	}
	if out := show("--http-port", "3001", "config", "show"); !strings.Contains(out, "HTTP_PORT = 3001 ") {
		t.Fatalf("root flag not seen by subcommand:\n%s", out)
	}
	if out := show("--http-port", "3001", "config", "show", "--http-port", "3002"); !strings.Contains(out, "HTTP_PORT = 3002 ") {
		t.Fatalf("subcommand flag does not win:\n%s", out)
	}
	other := confFile(t, "WORKERS = 7\n")
	if out := show("--config", other, "config", "show"); !strings.Contains(out, "WORKERS = 7 ") {
		t.Fatalf("root --config not used by subcommand:\n%s", out)
	}
	r := run(t, Deps{}, env, "", "config", "show", "--workers", "many")
	if r.code != 2 || !strings.Contains(r.err.Error(), "WORKERS=many (flag --workers)") {
		t.Fatalf("bad flag value: %d %v", r.code, r.err)
	}
}

func TestRootRunsRole(t *testing.T) {
	p := confFile(t, "HTTP_PORT = 8181\n")
	var got config.Config
	calls := 0
	deps := Deps{RunRole: func(ctx context.Context, cfg config.Config) error {
		calls++
		got = cfg
		return nil
	}}
	r := run(t, deps, map[string]string{"OMFLOW_NODE_NAME": "n1"}, "", "--config", p, "--role", "server")
	if r.code != 0 || calls != 1 || got.HTTPPort != 8181 || got.NodeName != "n1" || got.Role != "server" {
		t.Fatalf("code %d err %v calls %d cfg %+v", r.code, r.err, calls, got)
	}
	// Invalid settings: the role is not started, exit code 2.
	r = run(t, deps, nil, "", "--config", p, "--role", "booster")
	if r.code != 2 || calls != 1 || !strings.Contains(r.err.Error(), "DB_ENGINE=sqlite") {
		t.Fatalf("booster on sqlite: code %d calls %d err %v", r.code, calls, r.err)
	}
	// A runtime error of the role is exit code 1.
	deps.RunRole = func(context.Context, config.Config) error { return errors.New("port in use") }
	if r = run(t, deps, nil, "", "--config", p); r.code != 1 {
		t.Fatalf("role error: code %d", r.code)
	}
	if r = run(t, Deps{}, nil, "", "--config", p); r.code != 1 || !errors.Is(r.err, ErrNotAvailable) {
		t.Fatalf("nil RunRole: code %d err %v", r.code, r.err)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bogus"},
		{"--no-such-flag"},
		{"config"},
		{"config", "nope"},
		{"config", "show", "--no-such-flag"},
		{"config", "show", "extra"},
		{"user", "add"},
		{"app", "export"},
		{"app", "import", "/no/such/file.json"},
		{"version", "x"},
	} {
		r := run(t, Deps{}, nil, "", args...)
		if r.code != 2 {
			t.Errorf("%v: code %d (%v), want 2", args, r.code, r.err)
		}
	}
}

func TestNotAvailable(t *testing.T) {
	p := confFile(t, "")
	for _, args := range [][]string{
		{"db", "migrate"}, {"db", "status"}, {"user", "add", "--password", "x", "bob"},
		{"user", "passwd", "--password", "x", "bob"}, {"app", "export", "x"}, {"app", "import", p},
	} {
		// Options go before the arguments: COMMAND SUB --config FILE [rest].
		full := append(append(append([]string{}, args[:2]...), "--config", p), args[2:]...)
		r := run(t, Deps{}, nil, "", full...)
		if r.code != 1 || !errors.Is(r.err, ErrNotAvailable) || !strings.Contains(r.err.Error(), "not available in this build") {
			t.Errorf("%v: code %d err %v", full, r.code, r.err)
		}
	}
}

func TestDBCommands(t *testing.T) {
	p := confFile(t, "DB_NAME = \"x\"\n")
	var migrated string
	deps := Deps{
		DBMigrate: func(_ context.Context, cfg config.Config) error { migrated = cfg.DBName; return nil },
		DBStatus: func(_ context.Context, cfg config.Config, w io.Writer) error {
			_, err := fmt.Fprint(w, "1 pending")
			return err
		},
	}
	if r := run(t, deps, nil, "", "db", "migrate", "--config", p); r.code != 0 || migrated != "x" {
		t.Fatalf("migrate: %d %v %q", r.code, r.err, migrated)
	}
	if r := run(t, deps, nil, "", "db", "status", "--config", p); r.code != 0 || r.out != "1 pending" {
		t.Fatalf("status: %d %v %q", r.code, r.err, r.out)
	}
}

func TestUserPasswordSources(t *testing.T) {
	p := confFile(t, "")
	var got UserAddArgs
	var passwd [2]string
	deps := Deps{
		UserAdd:    func(_ context.Context, _ config.Config, a UserAddArgs) error { got = a; return nil },
		UserPasswd: func(_ context.Context, _ config.Config, u, pw string) error { passwd = [2]string{u, pw}; return nil },
	}
	r := run(t, deps, nil, "", "user", "add", "--config", p, "--password", "flagpw", "--admin", "--group", "a", "--group", "b", "alice")
	want := UserAddArgs{Username: "alice", Password: "flagpw", DisplayName: "alice", Admin: true, Groups: []string{"a", "b"}}
	if r.code != 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("flag: %d %v %+v", r.code, r.err, got)
	}
	r = run(t, deps, map[string]string{"OMFLOW_USER_PASSWORD": "envpw"}, "stdinpw\n", "user", "add", "--config", p, "--display-name", "Bob B", "bob")
	if r.code != 0 || got.Password != "envpw" || got.DisplayName != "Bob B" || got.Admin {
		t.Fatalf("env: %d %v %+v", r.code, r.err, got)
	}
	r = run(t, deps, nil, "stdinpw\r\nignored\n", "user", "passwd", "--config", p, "carol")
	if r.code != 0 || passwd != [2]string{"carol", "stdinpw"} {
		t.Fatalf("stdin: %d %v %v", r.code, r.err, passwd)
	}
	for _, out := range []string{r.out, r.errOut} {
		if strings.Contains(out, "stdinpw") {
			t.Fatalf("password echoed: %q", out)
		}
	}
	r = run(t, deps, nil, "\n", "user", "passwd", "--config", p, "carol")
	if r.code != 2 || !strings.Contains(r.err.Error(), "empty") {
		t.Fatalf("empty password: %d %v", r.code, r.err)
	}
}

func TestAppExportOut(t *testing.T) {
	p := confFile(t, "")
	fail := false
	deps := Deps{AppExport: func(_ context.Context, _ config.Config, id string, w io.Writer) error {
		fmt.Fprintf(w, "app %s", id)
		if fail {
			return errors.New("half way")
		}
		return nil
	}}
	out := filepath.Join(t.TempDir(), "app.json")
	if r := run(t, deps, nil, "", "app", "export", "--config", p, "--out", out, "helpdesk"); r.code != 0 {
		t.Fatalf("export: %d %v", r.code, r.err)
	}
	if b, _ := os.ReadFile(out); string(b) != "app helpdesk" {
		t.Fatalf("file: %q", b)
	}
	if r := run(t, deps, nil, "", "app", "export", "--config", p, "x"); r.out != "app x" {
		t.Fatalf("stdout: %q", r.out)
	}
	fail = true
	out2 := filepath.Join(filepath.Dir(out), "bad.json")
	if r := run(t, deps, nil, "", "app", "export", "--config", p, "--out", out2, "x"); r.code != 1 {
		t.Fatalf("failed export: %d", r.code)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Fatalf("failed export left files: %v", entries)
	}
}

func TestVersionAndGenkey(t *testing.T) {
	old := Version
	Version = "1.2.3"
	defer func() { Version = old }()
	r := run(t, Deps{}, nil, "", "version")
	if r.code != 0 || !strings.Contains(r.out, "omflow 1.2.3") || !strings.Contains(r.out, runtime.Version()) || !strings.Contains(r.out, "commit: ") {
		t.Fatalf("version: %d %v %q", r.code, r.err, r.out)
	}
	r = run(t, Deps{}, nil, "", "config", "genkey")
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.out))
	if r.code != 0 || err != nil || len(key) != 32 {
		t.Fatalf("genkey: %d %v %q", r.code, err, r.out)
	}
}

// TestEveryCommandDocumented checks that every command says what it does,
// shows an example, accepts --config and prints its help.
func TestEveryCommandDocumented(t *testing.T) {
	app := NewApp(Deps{})
	var walk func(path []string, cmds []*ucli.Command)
	walk = func(path []string, cmds []*ucli.Command) {
		for _, c := range cmds {
			if c.Name == "help" {
				continue
			}
			p := append(append([]string{}, path...), c.Name)
			if c.Usage == "" || c.Description == "" || !strings.Contains(c.UsageText, "omflow "+strings.Join(p, " ")) ||
				!strings.Contains(c.UsageText, "Example") {
				t.Errorf("%v: missing Usage, Description or an example in UsageText", p)
			}
			hasConfig := false
			for _, f := range c.Flags {
				for _, n := range f.Names() {
					hasConfig = hasConfig || n == "config"
				}
			}
			if !hasConfig {
				t.Errorf("%v: no --config flag", p)
			}
			r := run(t, Deps{}, nil, "", append(p, "--help")...)
			if r.code != 0 || !strings.Contains(r.out, "USAGE") {
				t.Errorf("%v --help: %d %v", p, r.code, r.err)
			}
			walk(p, c.Subcommands)
		}
	}
	walk(nil, app.Commands)
	r := run(t, Deps{}, nil, "", "--help")
	if r.code != 0 || !strings.Contains(r.out, "--http-port") || !strings.Contains(r.out, "--role") {
		t.Fatalf("root help lacks settings flags: %q", r.out)
	}
}
