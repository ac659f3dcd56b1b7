package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

var fuzzSeeds = []string{
	"",
	"HTTP_PORT = 8080\n",
	"ROLE = \"booster\"\nBOOSTER_IP = \"10.0.0.1\"\nDB_ENGINE = \"postgres\"\nDB_HOST = \"db\"\nCLUSTER_KEY = \"AAAAAAAAAAAAAAAAAAAAAA==\"\nLOCAL_IP = \"10.0.0.1\"\n",
	"DB_PROT = 1\n[x]\ny = 2\n",
	"HTTP_PORT = \"80\"\nDB_HOST = 5\n",
	"ADMIN_PASSWORD = \"x\"\n",
	"NODE_NAME = \"\"\nDB_PORT = 0\nDB_PATH = \"\"\n",
	"HTTP_PORT = 99999999999999999999\n",
	"[HTTP_PORT]\na = 1\n",
	"LOCAL_IP = \"\\u0000\"\n",
	"'HTTP_PORT' = 1\n\"DB_NAME\" = 'x'\n",
	"a.b.c = 1\n",
}

// FuzzLoad feeds arbitrary bytes as the settings file. Load must not panic;
// when it succeeds, Validate returns only FieldErrors naming known keys, and
// the settings written as TOML load back to the same settings.
func FuzzLoad(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := Defaults()
		if err := applyFile(&c, data); err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		resolve(&c, fixedHost)
		if err := c.Validate(); err != nil {
			joined, ok := err.(interface{ Unwrap() []error })
			if !ok {
				t.Fatalf("Validate returned %T", err)
			}
			for _, e := range joined.Unwrap() {
				var fe *FieldError
				if !errors.As(e, &fe) {
					t.Fatalf("Validate returned %T: %v", e, e)
				}
				if _, ok := LookupKey(fe.Key); !ok {
					t.Fatalf("error names unknown key %q", fe.Key)
				}
			}
		}
		var b strings.Builder
		writeTOML(&b, c, true)
		back := Defaults()
		if err := applyFile(&back, []byte(b.String())); err != nil {
			t.Fatalf("written settings do not load: %v\n%s", err, b.String())
		}
		resolve(&back, fixedHost)
		if back != c {
			t.Fatalf("round trip changed settings:\n%+v\n%+v", c, back)
		}
	})
}

// FuzzSet edits arbitrary files. Set must not panic, must leave the file
// untouched when it fails, and on success the file must hold the new value
// and every other top-level key unchanged.
func FuzzSet(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add([]byte(s), uint8(i), "7")
	}
	f.Add([]byte("HTTP_PORT = 1 # c\n"), uint8(15), "80")
	f.Add([]byte("DB_PASSWORD = 'x' # c\n"), uint8(12), "a\"b\\c")
	f.Fuzz(func(t *testing.T, data []byte, which uint8, value string) {
		k := table[int(which)%len(table)]
		p := filepath.Join(t.TempDir(), "omflow.conf")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		err := Set(p, k.Name, value)
		after, rerr := os.ReadFile(p)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if err != nil {
			if string(after) != string(data) {
				t.Fatalf("failed Set changed the file: %v", err)
			}
			return
		}
		var before, now map[string]any
		if _, err := toml.Decode(string(data), &before); err != nil {
			t.Fatalf("Set accepted a file that is not TOML: %v", err)
		}
		if _, err := toml.Decode(string(after), &now); err != nil {
			t.Fatalf("Set wrote a file that is not TOML: %v\n%q", err, after)
		}
		c := Defaults()
		if err := k.set(&c, value); err != nil {
			t.Fatalf("Set accepted a value that does not parse: %v", err)
		}
		var want any = k.Value(c)
		if k.Kind == KindInt {
			want = int64(*k.num(&c))
		}
		if now[k.Name] != want {
			t.Fatalf("%s = %v after Set, want %v", k.Name, now[k.Name], want)
		}
		for name, v := range before {
			if name == k.Name {
				continue
			}
			if _, ok := now[name]; !ok {
				t.Fatalf("key %s lost (had %v)", name, v)
			}
		}
		if len(now) != len(before)+boolInt(before[k.Name] == nil) {
			t.Fatalf("keys changed: before %d after %d", len(before), len(now))
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
