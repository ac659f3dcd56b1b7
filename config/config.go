// Package config reads, validates and edits the OMFLOW settings file.
//
// The settings come in layers, each overriding the one before:
//
//	defaults → settings file (TOML) → environment (OMFLOW_<KEY>) → command-line flags (--lower-kebab-key)
//
// One table of key descriptors (keys.go) drives every layer, the validation
// of single values, `omflow config show` and `omflow config set`. To add a
// setting, add a field to Config and one entry to the table; a test checks
// that every field has exactly one entry.
//
// Load only reads and type-checks; Validate checks values and the rules
// between keys (role, cluster, database). Config is passed by value; there
// are no package-level settings.
package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// Roles, the values of ROLE.
const (
	RoleServer  = "server"
	RoleBooster = "booster"
	RoleAgent   = "agent"
	RoleSlave   = "slave"
)

// Database engines, the values of DB_ENGINE.
const (
	EngineSQLite    = "sqlite"
	EnginePostgres  = "postgres"
	EngineMySQL     = "mysql"
	EngineSQLServer = "sqlserver"
	EngineOracle    = "oracle"
)

// SecretMask is the text shown in place of a secret value.
const SecretMask = "********"

// Config holds the effective settings of one process. Each field is one key
// of the settings file; the key names are in the comments.
type Config struct {
	Role              string // ROLE
	LocalIP           string // LOCAL_IP
	LocalPort         int    // LOCAL_PORT
	BoosterIP         string // BOOSTER_IP
	BoosterPort       int    // BOOSTER_PORT
	SecondBoosterIP   string // SECOND_BOOSTER_IP
	SecondBoosterPort int    // SECOND_BOOSTER_PORT
	DBEngine          string // DB_ENGINE
	DBHost            string // DB_HOST
	DBPort            int    // DB_PORT; 0 = the engine's default port
	DBName            string // DB_NAME
	DBUser            string // DB_USER
	DBPassword        string // DB_PASSWORD
	DBParams          string // DB_PARAMS
	DBMaxConns        int    // DB_MAX_CONNS; 0 = the role's default
	DBPath            string // DB_PATH; "" = DATA_DIR/omflow.db
	HTTPPort          int    // HTTP_PORT
	HTTPIP            string // HTTP_IP; "" = all addresses
	BoosterHTTPPort   int    // BOOSTER_HTTP_PORT; 0 = off
	DataDir           string // DATA_DIR
	ClusterKey        string // CLUSTER_KEY (base64)
	LogLevel          string // LOG_LEVEL
	LogFormat         string // LOG_FORMAT
	NodeName          string // NODE_NAME
	AdminPassword     string // ADMIN_PASSWORD (environment or flag only)
	Workers           int    // WORKERS
	MaxAttachmentMB   int    // MAX_ATTACHMENT_MB
}

// Defaults returns the settings used when nothing else is given. Values that
// depend on other keys (DB_PORT, DB_PATH, NODE_NAME) stay empty here; Load
// fills them in after all layers are applied.
func Defaults() Config {
	var c Config
	for i := range table {
		k := &table[i]
		if err := k.set(&c, k.Default); err != nil {
			// The table is fixed at compile time; TestDefaultsParse keeps it valid.
			panic(fmt.Sprintf("config: default of %s: %v", k.Name, err))
		}
	}
	return c
}

// DefaultPath is where the installer puts the settings file of a role.
func DefaultPath(role string) string {
	if role == "" {
		role = RoleServer
	}
	return filepath.Join("/opt/omflow", role, "etc", "omflow.conf")
}

// DefaultDBPort returns the usual port of a database engine, or 0 when the
// engine has no port (sqlite) or is unknown.
func DefaultDBPort(engine string) int {
	switch engine {
	case EnginePostgres:
		return 5432
	case EngineMySQL:
		return 3306
	case EngineSQLServer:
		return 1433
	case EngineOracle:
		return 1521
	}
	return 0
}

// ClusterMode reports whether this node is part of a Booster cluster, that
// is whether BOOSTER_IP is set.
func (c Config) ClusterMode() bool { return c.BoosterIP != "" }

// BoosterAddrs returns the configured boosters as "host:port", the preferred
// active (BOOSTER) first and the standby (SECOND_BOOSTER) second. Unset
// boosters are left out.
func (c Config) BoosterAddrs() []string {
	var addrs []string
	if c.BoosterIP != "" {
		addrs = append(addrs, joinHostPort(c.BoosterIP, c.BoosterPort))
	}
	if c.SecondBoosterIP != "" {
		addrs = append(addrs, joinHostPort(c.SecondBoosterIP, c.SecondBoosterPort))
	}
	return addrs
}

// LocalAddr returns LOCAL_IP:LOCAL_PORT, the address other nodes reach this
// node's cluster port at.
func (c Config) LocalAddr() string { return joinHostPort(c.LocalIP, c.LocalPort) }

// HTTPAddr returns the address the web server listens on (HTTP_IP:HTTP_PORT;
// an empty HTTP_IP means all addresses).
func (c Config) HTTPAddr() string { return joinHostPort(c.HTTPIP, c.HTTPPort) }

// IsBooster reports whether LOCAL_IP:LOCAL_PORT names one of the configured
// boosters, and which one: 0 for BOOSTER, 1 for SECOND_BOOSTER.
func (c Config) IsBooster() (index int, ok bool) {
	if c.BoosterIP == "" {
		return 0, false // no booster pair configured
	}
	local := c.LocalAddr()
	for i, a := range c.BoosterAddrs() {
		if strings.EqualFold(a, local) {
			return i, true
		}
	}
	return 0, false
}

// SQLitePath returns the SQLite database file: DB_PATH, or DATA_DIR/omflow.db
// when DB_PATH is empty.
func (c Config) SQLitePath() string {
	if c.DBPath != "" {
		return c.DBPath
	}
	return filepath.Join(c.DataDir, "omflow.db")
}

// ClusterKeyBytes decodes CLUSTER_KEY.
func (c Config) ClusterKeyBytes() ([]byte, error) {
	if c.ClusterKey == "" {
		return nil, &FieldError{Key: "CLUSTER_KEY", Msg: "the cluster key is required; create one with `omflow config genkey`"}
	}
	if msg := checkClusterKey(c.ClusterKey); msg != "" {
		return nil, &FieldError{Key: "CLUSTER_KEY", Value: SecretMask, Msg: msg}
	}
	return base64.StdEncoding.DecodeString(c.ClusterKey)
}

// Redacted returns a copy with the secrets (every key marked secret in the
// table: DB_PASSWORD, CLUSTER_KEY, ADMIN_PASSWORD) replaced by "********".
// Empty secrets stay empty so that "not set" remains visible.
func (c Config) Redacted() Config {
	for i := range table {
		k := &table[i]
		if k.Secret && k.str != nil {
			if p := k.str(&c); *p != "" {
				*p = SecretMask
			}
		}
	}
	return c
}

func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
