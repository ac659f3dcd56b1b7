package store

// The SQLite driver is github.com/glebarez/sqlite, a GORM dialector over
// modernc.org/sqlite: SQLite translated to Go, so the omflow binary builds
// with CGO_ENABLED=0 and runs on any Linux without a C library or a database
// server. gorm.io/driver/sqlite (mattn/go-sqlite3) was rejected because it
// needs cgo.
//
// Settings chosen for a server that many goroutines use at once:
//   - journal_mode=WAL: readers do not block the writer.
//   - busy_timeout=10000: a writer waits for the lock instead of failing.
//   - _txlock=immediate: every transaction takes the write lock at BEGIN. A
//     deferred transaction that reads then writes can fail at once with
//     SQLITE_BUSY when another writer went first (the busy handler is not
//     called for a lock upgrade); taking the lock up front avoids that.
//   - foreign_keys=on, synchronous=NORMAL (safe in WAL mode).

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
)

// withoutReturning makes INSERTs take the new row id from LastInsertId
// instead of "INSERT ... RETURNING". SQLite runs RETURNING like a trigger,
// which gives every INSERT in a multi-statement transaction a statement
// journal; in the pure-Go build allocating and freeing that journal cost
// about 40 % of a server's CPU when filing tickets (bench/README.md).
func withoutReturning(g *gorm.DB) error {
	cfg := &callbacks.Config{LastInsertIDReversed: true, CreateClauses: []string{"INSERT", "VALUES", "ON CONFLICT"}}
	create := g.Callback().Create()
	create.Clauses = cfg.CreateClauses
	if err := create.Replace("gorm:create", callbacks.Create(cfg)); err != nil {
		return fmt.Errorf("sqlite: insert without RETURNING: %w", err)
	}
	return nil
}

func sqliteDialector(path string) (gorm.Dialector, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite: no database file given")
	}
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: create folder for %s: %w", path, err)
		}
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	return sqlite.Open("file:" + path + "?" + q.Encode()), nil
}
