package store

import (
	"fmt"
	"strings"
)

// Engine names a supported database engine, as written in DB_ENGINE.
type Engine string

// The engines.
const (
	SQLite    Engine = "sqlite"
	Postgres  Engine = "postgres"
	MySQL     Engine = "mysql"
	SQLServer Engine = "sqlserver"
)

// ParseEngine accepts the DB_ENGINE spellings admins use.
func ParseEngine(s string) (Engine, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "sqlite", "sqlite3":
		return SQLite, nil
	case "postgres", "postgresql", "pgsql":
		return Postgres, nil
	case "mysql", "mariadb":
		return MySQL, nil
	case "sqlserver", "mssql":
		return SQLServer, nil
	case "oracle":
		return "", fmt.Errorf("DB_ENGINE=oracle is not supported in this release: use postgres, mysql or sqlserver")
	}
	return "", fmt.Errorf("DB_ENGINE=%q is not a known engine: use sqlite, postgres, mysql or sqlserver", s)
}

// IsSQLite and friends let callers branch on the dialect in the rare places
// where SQL differs; everything else goes through GORM.
func (e Engine) IsSQLite() bool    { return e == SQLite }
func (e Engine) IsPostgres() bool  { return e == Postgres }
func (e Engine) IsMySQL() bool     { return e == MySQL }
func (e Engine) IsSQLServer() bool { return e == SQLServer }

// nowSQL is the expression for the database's current time in UTC. Leases are
// measured by the database's clock so that servers with skewed clocks agree.
//   - PostgreSQL: CURRENT_TIMESTAMP is timestamptz; the driver returns it in UTC
//     when the session time zone is UTC (set in the DSN).
//   - MySQL: NOW() follows the session time zone; UTC_TIMESTAMP(6) does not.
//   - SQL Server: SYSUTCDATETIME() is UTC with 100ns precision.
//   - SQLite: there is only one process on one machine; the Go clock is used.
func (e Engine) nowSQL() string {
	switch e {
	case Postgres:
		return "SELECT CURRENT_TIMESTAMP"
	case MySQL:
		return "SELECT UTC_TIMESTAMP(6)"
	case SQLServer:
		return "SELECT SYSUTCDATETIME()"
	}
	return ""
}
