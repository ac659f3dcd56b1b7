package config

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// noEnv is an environment with nothing set.
func noEnv(string) (string, bool) { return "", false }

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func fixedHost() (string, error) { return "node1", nil }

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "omflow.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(t *testing.T, text string, env map[string]string, flags map[string]string) (Config, error) {
	t.Helper()
	opts := LoadOptions{LookupEnv: envOf(env), Flags: flags, Hostname: fixedHost}
	if text != "" {
		opts.Path = writeFile(t, text)
	}
	return Load(opts)
}

// TestTableCoversConfig keeps the key table and the Config struct in step:
// every field is driven by exactly one key, names and flags are unique and
// every default parses and passes its own check.
func TestTableCoversConfig(t *testing.T) {
	var c Config
	rv := reflect.ValueOf(&c).Elem()
	fieldOf := map[uintptr]string{}
	for i := 0; i < rv.NumField(); i++ {
		fieldOf[rv.Field(i).Addr().Pointer()] = rv.Type().Field(i).Name
	}
	used := map[string]string{}
	names, flags := map[string]bool{}, map[string]bool{}
	for _, k := range Keys() {
		var p uintptr
		switch k.Kind {
		case KindInt:
			if k.num == nil || k.str != nil {
				t.Fatalf("%s: int key needs num accessor only", k.Name)
			}
			p = reflect.ValueOf(k.num(&c)).Pointer()
		case KindString:
			if k.str == nil || k.num != nil {
				t.Fatalf("%s: string key needs str accessor only", k.Name)
			}
			p = reflect.ValueOf(k.str(&c)).Pointer()
		}
		field, ok := fieldOf[p]
		if !ok {
			t.Fatalf("%s: accessor does not point into Config", k.Name)
		}
		if prev, dup := used[field]; dup {
			t.Fatalf("field %s driven by both %s and %s", field, prev, k.Name)
		}
		used[field] = k.Name
		if names[k.Name] || flags[k.FlagName()] {
			t.Fatalf("duplicate key or flag %s", k.Name)
		}
		names[k.Name], flags[k.FlagName()] = true, true
		if k.Help == "" {
			t.Errorf("%s has no help text", k.Name)
		}
		d := Defaults()
		if fe := k.check(&d); fe != nil {
			t.Errorf("default of %s fails its check: %v", k.Name, fe)
		}
	}
	if len(used) != rv.NumField() {
		t.Fatalf("%d Config fields but %d keys drive them", rv.NumField(), len(used))
	}
}

func TestDefaults(t *testing.T) {
	want := Config{
		Role: "server", LocalIP: "127.0.0.1", LocalPort: 5169, BoosterPort: 5169, SecondBoosterPort: 5169,
		DBEngine: "sqlite", DBName: "omflow", HTTPPort: 8080, DataDir: "./data",
		LogLevel: "info", LogFormat: "text", Workers: 16, MaxAttachmentMB: 10,
	}
	if got := Defaults(); got != want {
		t.Fatalf("Defaults() =\n%+v\nwant\n%+v", got, want)
	}
	k, _ := LookupKey("HTTP_PORT")
	if k.EnvVar() != "OMFLOW_HTTP_PORT" || k.FlagName() != "http-port" {
		t.Fatalf("env/flag names: %s %s", k.EnvVar(), k.FlagName())
	}
}

func TestLoadNoFileIsValid(t *testing.T) {
	c, err := load(t, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if c.NodeName != "node1" || c.DBPath != filepath.Join("data", "omflow.db") || c.DBPort != 0 {
		t.Fatalf("resolved defaults wrong: %+v", c)
	}
}

func TestLoadLayering(t *testing.T) {
	file := "HTTP_PORT = 1000\nLOG_LEVEL = \"debug\"\nWORKERS = 3\nDB_NAME = \"fromfile\"\n"
	env := map[string]string{"OMFLOW_HTTP_PORT": "2000", "OMFLOW_LOG_LEVEL": "warn", "OMFLOW_DB_NAME": "fromenv"}
	flags := map[string]string{"HTTP_PORT": "3000", "DB_NAME": "fromflag"}
	c, err := load(t, file, env, flags)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPPort != 3000 || c.LogLevel != "warn" || c.Workers != 3 || c.DBName != "fromflag" || c.MaxAttachmentMB != 10 {
		t.Fatalf("layering wrong: port %d level %s workers %d name %s attach %d", c.HTTPPort, c.LogLevel, c.Workers, c.DBName, c.MaxAttachmentMB)
	}
	// Without the flag, the environment wins over the file.
	c, err = load(t, file, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPPort != 2000 || c.DBName != "fromenv" {
		t.Fatalf("env does not override file: %d %s", c.HTTPPort, c.DBName)
	}
}

func TestLoadResolvesDependentDefaults(t *testing.T) {
	for engine, port := range map[string]int{"postgres": 5432, "mysql": 3306, "sqlserver": 1433, "oracle": 1521, "sqlite": 0} {
		c, err := load(t, "DB_ENGINE = \""+engine+"\"\n", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.DBPort != port {
			t.Errorf("%s: DB_PORT = %d, want %d", engine, c.DBPort, port)
		}
		if (engine == "sqlite") != (c.DBPath != "") {
			t.Errorf("%s: DB_PATH = %q", engine, c.DBPath)
		}
	}
	c, err := load(t, "DB_ENGINE = \"postgres\"\nDB_PORT = 6543\nNODE_NAME = \"n7\"\n", nil, map[string]string{"DATA_DIR": "/var/x"})
	if err != nil {
		t.Fatal(err)
	}
	if c.DBPort != 6543 || c.NodeName != "n7" || c.SQLitePath() != "/var/x/omflow.db" {
		t.Fatalf("explicit values replaced: %+v", c)
	}
}

func TestLoadMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.conf")
	_, err := Load(LoadOptions{Path: p, LookupEnv: noEnv})
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestLoadUnknownKey(t *testing.T) {
	_, err := load(t, "# settings\nDB_ENGINE = \"postgres\"\nDB_PROT = 5432\n", nil, nil)
	var uk *UnknownKeyError
	if !errors.As(err, &uk) {
		t.Fatalf("want UnknownKeyError, got %v", err)
	}
	if uk.Key != "DB_PROT" || uk.Line != 3 || uk.Suggestion != "DB_PORT" {
		t.Fatalf("got %+v", uk)
	}
	for _, want := range []string{"line 3", "DB_PROT", "did you mean DB_PORT?"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}

	_, err = load(t, "http_port = 1\n\n[database]\nhost = \"x\"\n", nil, nil)
	msg := err.Error()
	if !strings.Contains(msg, "line 1: unknown key http_port; did you mean HTTP_PORT?") ||
		!strings.Contains(msg, "line 3: unknown key database") {
		t.Fatalf("message: %s", msg)
	}
	if strings.Index(msg, "line 1") > strings.Index(msg, "line 3") {
		t.Fatalf("errors not in line order: %s", msg)
	}
	_, err = load(t, "ZZZZZZZZ = 1\n", nil, nil)
	if !errors.As(err, &uk) || uk.Suggestion != "" {
		t.Fatalf("far-off key got a suggestion: %v", err)
	}
}

func TestLoadTypeErrors(t *testing.T) {
	_, err := load(t, "DB_ENGINE = \"sqlite\"\nHTTP_PORT = \"8080\"\nDB_HOST = 5\nLOG_LEVEL = [\"x\"]\n", nil, nil)
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("want FieldError, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"HTTP_PORT=8080 (line 2): is a TOML string; must be a TOML integer without quotes, for example HTTP_PORT = 8080",
		"DB_HOST=5 (line 3): is a TOML integer; must be a quoted TOML string",
		"LOG_LEVEL (line 4): is a TOML array",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

func TestLoadSyntaxError(t *testing.T) {
	_, err := load(t, "HTTP_PORT = = 1\n", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "not valid TOML") || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("syntax error: %v", err)
	}
}

func TestLoadAdminPasswordOnlyFromEnvOrFlag(t *testing.T) {
	_, err := load(t, "ADMIN_PASSWORD = \"hunter22\"\n", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot be set in the settings file") || strings.Contains(err.Error(), "hunter22") {
		t.Fatalf("ADMIN_PASSWORD in file: %v", err)
	}
	c, err := load(t, "", map[string]string{"OMFLOW_ADMIN_PASSWORD": "s3cret"}, nil)
	if err != nil || c.AdminPassword != "s3cret" {
		t.Fatalf("from env: %v %q", err, c.AdminPassword)
	}
}

func TestLoadEnvAndFlagErrors(t *testing.T) {
	_, err := load(t, "", map[string]string{"OMFLOW_HTTP_PORT": "abc", "OMFLOW_WORKERS": "x"}, nil)
	if err == nil || !strings.Contains(err.Error(), "HTTP_PORT=abc (environment OMFLOW_HTTP_PORT): must be a whole number") ||
		!strings.Contains(err.Error(), "WORKERS=x (environment OMFLOW_WORKERS)") {
		t.Fatalf("env error: %v", err)
	}
	_, err = load(t, "", nil, map[string]string{"LOCAL_PORT": "1.5"})
	if err == nil || !strings.Contains(err.Error(), "(flag --local-port)") {
		t.Fatalf("flag error: %v", err)
	}
	_, err = load(t, "", nil, map[string]string{"NOPE": "1"})
	if err == nil || !strings.Contains(err.Error(), `unknown setting "NOPE"`) {
		t.Fatalf("unknown flag key: %v", err)
	}
}

func TestHelpers(t *testing.T) {
	c := Defaults()
	c.LocalIP, c.LocalPort = "10.0.0.12", 5170
	c.BoosterIP, c.BoosterPort = "10.0.0.11", 5169
	c.SecondBoosterIP, c.SecondBoosterPort = "10.0.0.12", 5170
	if !c.ClusterMode() {
		t.Fatal("ClusterMode false with BOOSTER_IP set")
	}
	if got := c.BoosterAddrs(); !reflect.DeepEqual(got, []string{"10.0.0.11:5169", "10.0.0.12:5170"}) {
		t.Fatalf("BoosterAddrs = %v", got)
	}
	if i, ok := c.IsBooster(); !ok || i != 1 {
		t.Fatalf("IsBooster = %d %v, want 1 true", i, ok)
	}
	c.LocalPort = 5169
	if _, ok := c.IsBooster(); ok {
		t.Fatal("IsBooster true for a port not in the pair")
	}
	c.LocalIP = "::1"
	if c.LocalAddr() != "[::1]:5169" {
		t.Fatalf("LocalAddr = %s", c.LocalAddr())
	}
	c.BoosterIP = ""
	c.LocalIP, c.LocalPort = "10.0.0.12", 5170
	if _, ok := c.IsBooster(); ok {
		t.Fatal("IsBooster true with only SECOND_BOOSTER set")
	}
	if c.HTTPAddr() != ":8080" {
		t.Fatalf("HTTPAddr = %s", c.HTTPAddr())
	}
	if c.SQLitePath() != filepath.Join("data", "omflow.db") {
		t.Fatalf("SQLitePath = %s", c.SQLitePath())
	}
	c.DBPath = "/x/y.db"
	if c.SQLitePath() != "/x/y.db" {
		t.Fatalf("SQLitePath = %s", c.SQLitePath())
	}
}

func TestRedacted(t *testing.T) {
	c := Defaults()
	c.DBPassword, c.ClusterKey, c.AdminPassword, c.DBUser = "pw", "key", "adm", "user"
	r := c.Redacted()
	if r.DBPassword != SecretMask || r.ClusterKey != SecretMask || r.AdminPassword != SecretMask || r.DBUser != "user" {
		t.Fatalf("Redacted = %+v", r)
	}
	if c.DBPassword != "pw" {
		t.Fatal("Redacted changed the original")
	}
	if Defaults().Redacted().DBPassword != "" {
		t.Fatal("empty secret shown as set")
	}
}

func TestClusterKey(t *testing.T) {
	a, err := GenerateClusterKey()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GenerateClusterKey()
	if a == b {
		t.Fatal("two generated keys are equal")
	}
	c := Defaults()
	c.ClusterKey = a
	raw, err := c.ClusterKeyBytes()
	if err != nil || len(raw) != 32 {
		t.Fatalf("ClusterKeyBytes: %d bytes, %v", len(raw), err)
	}
	c.ClusterKey = base64.StdEncoding.EncodeToString([]byte("short"))
	if _, err := c.ClusterKeyBytes(); err == nil || strings.Contains(err.Error(), c.ClusterKey) {
		t.Fatalf("short key: %v", err)
	}
	c.ClusterKey = ""
	if _, err := c.ClusterKeyBytes(); err == nil {
		t.Fatal("empty key accepted")
	}
}
