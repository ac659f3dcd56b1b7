package store

import (
	"errors"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	mssql "github.com/microsoft/go-mssqldb"
)

// IsRetryable reports whether err is a transient concurrency failure after
// which the whole transaction can simply run again: a deadlock victim or a
// serialization failure. Databases pick such victims under contention even
// when the application is correct (InnoDB does so readily for rows touched
// in different orders), so callers retry instead of failing the request.
//   - MySQL/MariaDB: 1213 deadlock, 1205 lock wait timeout.
//   - PostgreSQL: 40001 serialization_failure, 40P01 deadlock_detected.
//   - SQL Server: 1205 deadlock victim.
//   - SQLite: "database is locked" (SQLITE_BUSY) after busy_timeout.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		return my.Number == 1213 || my.Number == 1205
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "40001" || pg.Code == "40P01"
	}
	var ms mssql.Error
	if errors.As(err, &ms) {
		return ms.Number == 1205
	}
	return strings.Contains(err.Error(), "database is locked") || strings.Contains(err.Error(), "SQLITE_BUSY")
}
