package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSetPreservesCommentsAndLines(t *testing.T) {
	orig := "# OMFLOW settings\n\n  HTTP_PORT = 8080   # web port\nDB_ENGINE = \"sqlite\"\n# DB_PASSWORD = \"old\"\nDB_PASSWORD = \"a#b\" # keep me\n"
	p := writeFile(t, orig)
	if err := Set(p, "HTTP_PORT", "9090"); err != nil {
		t.Fatal(err)
	}
	if err := Set(p, "DB_PASSWORD", `new "pw"`); err != nil {
		t.Fatal(err)
	}
	if err := Set(p, "LOG_LEVEL", "debug"); err != nil {
		t.Fatal(err)
	}
	want := "# OMFLOW settings\n\n  HTTP_PORT = 9090   # web port\nDB_ENGINE = \"sqlite\"\n# DB_PASSWORD = \"old\"\nDB_PASSWORD = \"new \\\"pw\\\"\" # keep me\nLOG_LEVEL = \"debug\"\n"
	if got := readFile(t, p); got != want {
		t.Fatalf("file after Set:\n%s\nwant:\n%s", got, want)
	}
	c, err := Load(LoadOptions{Path: p, LookupEnv: noEnv, Hostname: fixedHost})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPPort != 9090 || c.DBPassword != `new "pw"` || c.LogLevel != "debug" {
		t.Fatalf("loaded %+v", c)
	}
}

func TestSetBeforeTableAndWithoutFinalNewline(t *testing.T) {
	p := writeFile(t, "HTTP_PORT = 1")
	if err := Set(p, "WORKERS", "4"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); got != "HTTP_PORT = 1\nWORKERS = 4\n" {
		t.Fatalf("got %q", got)
	}
	// A key inside a table is not the top-level key: insert before the header.
	p = writeFile(t, "HTTP_PORT = 1\n[extra]\nWORKERS = 2\n")
	if err := Set(p, "WORKERS", "4"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); got != "HTTP_PORT = 1\nWORKERS = 4\n[extra]\nWORKERS = 2\n" {
		t.Fatalf("got %q", got)
	}
}

func TestSetKeepsCRLF(t *testing.T) {
	p := writeFile(t, "# c\r\nHTTP_PORT = 1\r\n")
	if err := Set(p, "HTTP_PORT", "2"); err != nil {
		t.Fatal(err)
	}
	if err := Set(p, "WORKERS", "3"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); got != "# c\r\nHTTP_PORT = 2\r\nWORKERS = 3\r\n" {
		t.Fatalf("got %q", got)
	}
}

func TestSetCreatesFilePrivate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "new.conf")
	if err := Set(p, "CLUSTER_KEY", "AAAAAAAAAAAAAAAAAAAAAA=="); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); got != "CLUSTER_KEY = \"AAAAAAAAAAAAAAAAAAAAAA==\"\n" {
		t.Fatalf("got %q", got)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestSetKeepsModeAndSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.conf")
	if err := os.WriteFile(target, []byte("WORKERS = 1\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.conf")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := Set(link, "WORKERS", "2"); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("symlink replaced by a file")
	}
	st, _ := os.Stat(target)
	if st.Mode().Perm() != 0o640 || readFile(t, target) != "WORKERS = 2\n" {
		t.Fatalf("target mode %v content %q", st.Mode().Perm(), readFile(t, target))
	}
}

func TestSetRefusals(t *testing.T) {
	orig := "HTTP_PORT = 8080\n"
	p := writeFile(t, orig)
	cases := []struct {
		key, value, want string
	}{
		{"HTTP_PROT", "1", "unknown key HTTP_PROT; did you mean HTTP_PORT?"},
		{"HTTP_PORT", "abc", "HTTP_PORT=abc: must be a whole number"},
		{"HTTP_PORT", "70000", "HTTP_PORT=70000: must be a port number from 1 to 65535"},
		{"ROLE", "master", "ROLE=master: must be one of server, booster, agent, slave"},
		{"ADMIN_PASSWORD", "x", "cannot be written to the settings file; pass it with OMFLOW_ADMIN_PASSWORD or --admin-password"},
		{"CLUSTER_KEY", "abc", "CLUSTER_KEY=******** : "},
	}
	for _, tc := range cases {
		err := Set(p, tc.key, tc.value)
		if err == nil {
			t.Errorf("Set %s %s accepted", tc.key, tc.value)
			continue
		}
		if tc.key == "CLUSTER_KEY" {
			// The bad key is not printed.
			if strings.Contains(err.Error(), "abc") || !strings.Contains(err.Error(), "CLUSTER_KEY") {
				t.Errorf("cluster key error: %v", err)
			}
		} else if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Set %s %s: %v, want %q", tc.key, tc.value, err, tc.want)
		}
	}
	var uk *UnknownKeyError
	if err := Set(p, "NOPE", "1"); !errors.As(err, &uk) {
		t.Fatalf("unknown key error type: %T", err)
	}
	if got := readFile(t, p); got != orig {
		t.Fatalf("file changed by refused Sets: %q", got)
	}
}

func TestSetRefusesToBreakFile(t *testing.T) {
	for name, orig := range map[string]string{
		"not TOML":          "HTTP_PORT = = 1\n",
		"multi-line string": "DB_PARAMS = \"\"\"a\nb\"\"\"\n",
		"multi-line array":  "HTTP_PORT = [\n1]\n",
	} {
		p := writeFile(t, orig)
		key := "HTTP_PORT"
		if strings.HasPrefix(orig, "DB_PARAMS") {
			key = "DB_PARAMS"
		}
		if err := Set(p, key, "2"); err == nil {
			t.Errorf("%s: Set accepted", name)
		} else if !strings.Contains(err.Error(), "by hand") {
			t.Errorf("%s: message does not say what to do: %v", name, err)
		}
		if got := readFile(t, p); got != orig {
			t.Errorf("%s: file changed: %q", name, got)
		}
	}
}

func TestShow(t *testing.T) {
	c := Defaults()
	c.NodeName, c.DBPassword, c.ClusterKey = "n1", "topsecret", "AAAAAAAAAAAAAAAAAAAAAA=="
	c.DBPath = c.SQLitePath() // as Load resolves it
	var b strings.Builder
	if err := Show(c, &b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"\nHTTP_PORT = 8080 ", `DB_PASSWORD = "********"`, `CLUSTER_KEY = "********"`, "# port of the web UI and REST API"} {
		if !strings.Contains(out, want) {
			t.Errorf("Show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "topsecret") || strings.Contains(out, "ADMIN_PASSWORD") {
		t.Fatalf("Show leaks or shows unset ADMIN_PASSWORD:\n%s", out)
	}
	c.AdminPassword = "adm"
	b.Reset()
	_ = Show(c, &b)
	if !strings.Contains(b.String(), "\n# ADMIN_PASSWORD = \"********\"") {
		t.Fatalf("set ADMIN_PASSWORD not shown as comment:\n%s", b.String())
	}
	// The output is a settings file that loads back to the same settings.
	back, err := load(t, b.String(), nil, nil)
	if err != nil {
		t.Fatalf("Show output does not load: %v\n%s", err, b.String())
	}
	want := c.Redacted()
	want.AdminPassword = ""
	if back != want {
		t.Fatalf("round trip:\n%+v\nwant\n%+v", back, want)
	}
}
