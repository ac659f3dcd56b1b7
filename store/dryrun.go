package store

import (
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/driver/sqlserver"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// gormConfig is the GORM configuration every DB of engine e runs with.
func gormConfig(e Engine) *gorm.Config {
	return &gorm.Config{
		NowFunc:                func() time.Time { return time.Now().UTC() },
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		// No GORM prepared-statement cache. Inside a transaction it
		// prepares every statement again on each transaction and closes it
		// at commit (database/sql binds a prepared statement to one Tx):
		// two extra round trips per statement. Instead pgx caches prepared
		// statements per connection itself, MySQL interpolates arguments
		// (interpolateParams), go-mssqldb runs sp_executesql, which SQL
		// Server caches, and SQLite prepares in process.
		PrepareStmt:    false,
		TranslateError: true,
	}
}

// OpenSQLServerPool returns a DB that speaks SQL Server's dialect (GORM's
// sqlserver dialector, the settings Open uses) over pool, a database/sql
// pool the caller made. It neither pings nor reads the database clock. It
// exists so that the SQL sent to SQL Server can be checked where no server
// runs: tests pass a pool over a driver that records each statement and
// answers from a script (see sqlserver_test.go).
func OpenSQLServerPool(pool *sql.DB, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.Default()
	}
	g, err := gorm.Open(sqlserver.New(sqlserver.Config{Conn: pool}), gormConfig(SQLServer))
	if err != nil {
		return nil, fmt.Errorf("open sqlserver dialect over a pool: %w", err)
	}
	return &DB{g: g, engine: SQLServer, log: log}, nil
}
