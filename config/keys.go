package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode"
)

// Kind is the type of a setting's value.
type Kind int

// The kinds of setting values.
const (
	KindString Kind = iota // a TOML string: KEY = "text"
	KindInt                // a TOML integer: KEY = 8080
)

func (k Kind) String() string {
	if k == KindInt {
		return "integer"
	}
	return "string"
}

// Key describes one setting. The table of keys drives defaults, decoding of
// the file, the environment and flag overrides, `config show` and
// `config set`.
type Key struct {
	Name    string // name in the settings file, e.g. "HTTP_PORT"
	Kind    Kind
	Default string // default as text; "" for none
	Help    string // one line for --help and `config show`
	Secret  bool   // shown as "********" by Show and Redacted
	EnvOnly bool   // may only come from the environment or a flag, never the file

	str      func(*Config) *string
	num      func(*Config) *int
	checkStr func(string) string // returns what is wrong and how to fix it, or ""
	checkInt func(int) string
}

// EnvVar is the environment variable that overrides the key: OMFLOW_<KEY>.
func (k Key) EnvVar() string { return "OMFLOW_" + k.Name }

// FlagName is the command-line flag that overrides the key, without the
// leading dashes: the key in lower-kebab case (HTTP_PORT → http-port).
func (k Key) FlagName() string { return strings.ToLower(strings.ReplaceAll(k.Name, "_", "-")) }

// Value returns the key's value in c as text (integers in decimal).
func (k Key) Value(c Config) string {
	if k.Kind == KindInt {
		return strconv.Itoa(*k.num(&c))
	}
	return *k.str(&c)
}

// Keys returns the descriptors of all settings, in the order `config show`
// prints them.
func Keys() []Key {
	return append([]Key(nil), table...)
}

// LookupKey returns the descriptor of the named key (exact, case-sensitive
// name as in the settings file).
func LookupKey(name string) (Key, bool) {
	for _, k := range table {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

// set parses raw (from the table default, the environment or a flag) and
// stores it in c. The error message says what is wrong; the caller adds the
// key and the source.
func (k *Key) set(c *Config, raw string) error {
	if k.Kind == KindInt {
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("must be a whole number (for example %s=%s)", k.Name, k.exampleInt())
		}
		*k.num(c) = n
		return nil
	}
	*k.str(c) = raw
	return nil
}

// setTOML stores a value decoded from the settings file, checking its TOML
// type against the key's kind.
func (k *Key) setTOML(c *Config, v any) error {
	switch k.Kind {
	case KindInt:
		n, ok := v.(int64)
		if !ok {
			return fmt.Errorf("must be a TOML integer without quotes, for example %s = %s", k.Name, k.exampleInt())
		}
		if int64(int(n)) != n {
			return fmt.Errorf("number out of range")
		}
		*k.num(c) = int(n)
	default:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("must be a quoted TOML string, for example %s = %s", k.Name, quoteTOML(k.exampleStr()))
		}
		*k.str(c) = s
	}
	return nil
}

// check validates the key's value in c on its own (rules between keys are
// in Validate).
func (k *Key) check(c *Config) *FieldError {
	var msg string
	switch {
	case k.Kind == KindInt && k.checkInt != nil:
		msg = k.checkInt(*k.num(c))
	case k.Kind == KindString && k.checkStr != nil:
		msg = k.checkStr(*k.str(c))
	}
	if msg == "" {
		return nil
	}
	return k.fieldError(k.Value(*c), msg)
}

// fieldError builds a FieldError for this key, hiding secret values.
func (k *Key) fieldError(value, msg string) *FieldError {
	if k.Secret && value != "" {
		value = SecretMask
	}
	return &FieldError{Key: k.Name, Value: value, Msg: msg}
}

func (k *Key) exampleInt() string {
	if k.Default != "" && k.Default != "0" {
		return k.Default
	}
	return "5169"
}

func (k *Key) exampleStr() string {
	if k.Default != "" {
		return k.Default
	}
	return "text"
}

func strKey(name, def, help string, field func(*Config) *string, check func(string) string) Key {
	return Key{Name: name, Kind: KindString, Default: def, Help: help, str: field, checkStr: check}
}

func intKey(name, def, help string, field func(*Config) *int, check func(int) string) Key {
	return Key{Name: name, Kind: KindInt, Default: def, Help: help, num: field, checkInt: check}
}

func secret(k Key) Key  { k.Secret = true; return k }
func envOnly(k Key) Key { k.EnvOnly = true; return k }

// supportedEngines are the DB_ENGINE values this release can run on.
var supportedEngines = []string{EngineSQLite, EnginePostgres, EngineMySQL, EngineSQLServer}

// table lists every setting. Keep it in the order of `config show`.
var table = []Key{
	strKey("ROLE", RoleServer, "what this process runs: server | booster | agent | slave",
		func(c *Config) *string { return &c.Role },
		oneOf(RoleServer, RoleBooster, RoleAgent, RoleSlave)),
	strKey("LOCAL_IP", "127.0.0.1", "this host's address as the other nodes reach it (IP or DNS name)",
		func(c *Config) *string { return &c.LocalIP }, host(true)),
	intKey("LOCAL_PORT", "5169", "this host's cluster port (TCP and UDP)",
		func(c *Config) *int { return &c.LocalPort }, portRange(1)),
	strKey("BOOSTER_IP", "", "address of the preferred active booster; empty = no cluster (standalone)",
		func(c *Config) *string { return &c.BoosterIP }, host(false)),
	intKey("BOOSTER_PORT", "5169", "cluster port of BOOSTER_IP",
		func(c *Config) *int { return &c.BoosterPort }, portRange(1)),
	strKey("SECOND_BOOSTER_IP", "", "address of the standby booster; empty = no standby",
		func(c *Config) *string { return &c.SecondBoosterIP }, host(false)),
	intKey("SECOND_BOOSTER_PORT", "5169", "cluster port of SECOND_BOOSTER_IP",
		func(c *Config) *int { return &c.SecondBoosterPort }, portRange(1)),
	strKey("DB_ENGINE", EngineSQLite, "database: sqlite | postgres | mysql | sqlserver (oracle: not in this release)",
		func(c *Config) *string { return &c.DBEngine }, checkEngine),
	strKey("DB_HOST", "", "database server address (not used by sqlite)",
		func(c *Config) *string { return &c.DBHost }, host(false)),
	intKey("DB_PORT", "0", "database server port; 0 = the engine's usual port (5432, 3306, 1433, 1521)",
		func(c *Config) *int { return &c.DBPort }, portRange(0)),
	intKey("DB_MAX_CONNS", "0", "most database connections this node opens; 0 = 24 (8 for a booster, 8 for sqlite). All nodes together must stay below the database's limit",
		func(c *Config) *int { return &c.DBMaxConns }, intRange(0, 1000)),
	strKey("DB_NAME", "omflow", "database name",
		func(c *Config) *string { return &c.DBName }, printable),
	strKey("DB_USER", "", "database user",
		func(c *Config) *string { return &c.DBUser }, printable),
	secret(strKey("DB_PASSWORD", "", "database password",
		func(c *Config) *string { return &c.DBPassword }, printable)),
	strKey("DB_PARAMS", "", "extra connection parameters added to the database DSN (optional)",
		func(c *Config) *string { return &c.DBParams }, printable),
	strKey("DB_PATH", "", "SQLite database file; empty = DATA_DIR/omflow.db",
		func(c *Config) *string { return &c.DBPath }, printable),
	intKey("HTTP_PORT", "8080", "port of the web UI and REST API",
		func(c *Config) *int { return &c.HTTPPort }, portRange(1)),
	strKey("HTTP_IP", "", "address the web server listens on; empty = all addresses",
		func(c *Config) *string { return &c.HTTPIP }, host(false)),
	intKey("BOOSTER_HTTP_PORT", "0", "booster status page port; 0 = off",
		func(c *Config) *int { return &c.BoosterHTTPPort }, portRange(0)),
	strKey("DATA_DIR", "./data", "directory for local files (SQLite database, caches, staged patches)",
		func(c *Config) *string { return &c.DataDir }, required(printable)),
	secret(strKey("CLUSTER_KEY", "", "base64 key shared by all cluster nodes; create one with \"omflow config genkey\"",
		func(c *Config) *string { return &c.ClusterKey }, optional(checkClusterKey))),
	strKey("LOG_LEVEL", "info", "log level: debug | info | warn | error",
		func(c *Config) *string { return &c.LogLevel }, oneOf("debug", "info", "warn", "error")),
	strKey("LOG_FORMAT", "text", "log format: text | json",
		func(c *Config) *string { return &c.LogFormat }, oneOf("text", "json")),
	strKey("NODE_NAME", "", "this node's name in the cluster; empty = the host name",
		func(c *Config) *string { return &c.NodeName }, optional(nodeName)),
	envOnly(secret(strKey("ADMIN_PASSWORD", "", "initial admin password (environment or flag only, never the file)",
		func(c *Config) *string { return &c.AdminPassword }, printable))),
	intKey("WORKERS", "16", "flow steps this node runs at once (each holds a database connection while it commits)",
		func(c *Config) *int { return &c.Workers }, intRange(1, 1024)),
	intKey("MAX_ATTACHMENT_MB", "10", "largest accepted attachment, in megabytes",
		func(c *Config) *int { return &c.MaxAttachmentMB }, intRange(1, 2048)),
}

// ---- value checks. Each returns what is wrong and how to fix it, or "". ----

func oneOf(values ...string) func(string) string {
	return func(s string) string {
		for _, v := range values {
			if s == v {
				return ""
			}
		}
		return "must be one of " + strings.Join(values, ", ")
	}
}

func checkEngine(s string) string {
	if s == EngineOracle {
		return "Oracle is not supported in this release; use " + orList(supportedEngines[1:])
	}
	return oneOf(supportedEngines...)(s)
}

func portRange(lo int) func(int) string {
	return func(n int) string {
		if n < lo || n > 65535 {
			if lo == 0 {
				return "must be a port number from 1 to 65535, or 0"
			}
			return fmt.Sprintf("must be a port number from %d to 65535", lo)
		}
		return ""
	}
}

func intRange(lo, hi int) func(int) string {
	return func(n int) string {
		if n < lo || n > hi {
			return fmt.Sprintf("must be from %d to %d", lo, hi)
		}
		return ""
	}
}

// optional applies check only to non-empty values.
func optional(check func(string) string) func(string) string {
	return func(s string) string {
		if s == "" {
			return ""
		}
		return check(s)
	}
}

// required refuses the empty value, then applies check.
func required(check func(string) string) func(string) string {
	return func(s string) string {
		if strings.TrimSpace(s) == "" {
			return "must not be empty"
		}
		return check(s)
	}
}

// printable refuses control characters (a newline in a value breaks DSNs and logs).
func printable(s string) string {
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Sprintf("contains the control character %U; remove it", r)
		}
	}
	return ""
}

// host accepts an IP address or a DNS name.
func host(req bool) func(string) string {
	return func(s string) string {
		if s == "" {
			if req {
				return "must not be empty; set an IP address or DNS name"
			}
			return ""
		}
		if net.ParseIP(s) != nil {
			return ""
		}
		if strings.HasPrefix(s, "[") {
			return "write IPv6 addresses without brackets"
		}
		if strings.Contains(s, ":") {
			return "must be an address without a port; ports have their own *_PORT key"
		}
		if !validHostname(s) {
			return "must be an IP address or a DNS name (letters, digits, '-' and '.')"
		}
		return ""
	}
}

func validHostname(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
	}
	return true
}

func checkClusterKey(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "is not valid base64; create a key with `omflow config genkey`"
	}
	switch len(b) {
	case 16, 24, 32:
		return ""
	}
	return fmt.Sprintf("decodes to %d bytes, want 16, 24 or 32; create a key with `omflow config genkey`", len(b))
}

func nodeName(s string) string {
	if len(s) > 128 {
		return "must be at most 128 bytes"
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "must not contain spaces or control characters"
		}
	}
	return ""
}
