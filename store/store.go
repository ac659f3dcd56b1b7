package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlserver"
	"gorm.io/gorm"
)

// Options says which database to open.
type Options struct {
	Engine   Engine
	Path     string // SQLite file
	Host     string
	Port     int
	Name     string
	User     string
	Password string
	Params   string // extra DSN parameters, engine specific (k=v&k=v)
	// MaxOpenConns caps the pool; 0 picks a default for the engine.
	MaxOpenConns int
	Logger       *slog.Logger
}

// DB is an open database. It is safe for concurrent use.
type DB struct {
	g      *gorm.DB
	engine Engine
	log    *slog.Logger

	// offset is the database clock minus the local clock, in nanoseconds,
	// refreshed by SyncClock.
	offset    atomic.Int64
	closeOnce sync.Once
}

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a conditional update lost a race: someone else
// changed the row first.
var ErrConflict = errors.New("conflict: changed by someone else")

// Open connects to the database and checks that it answers. It does not
// migrate; call Migrate.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	dial, err := dialector(o)
	if err != nil {
		return nil, err
	}
	g, err := gorm.Open(dial, gormConfig(o.Engine))
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", o.Engine, err)
	}
	if o.Engine.IsSQLite() {
		if err := withoutReturning(g); err != nil {
			return nil, err
		}
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", o.Engine, err)
	}
	maxOpen := o.MaxOpenConns
	if maxOpen == 0 {
		// Enough for the workers and requests of one node; a cluster of
		// several nodes must fit in the database's connection limit.
		maxOpen = 24
		if o.Engine.IsSQLite() {
			maxOpen = 8
		}
	}
	sqlDB.SetMaxOpenConns(maxOpen)
	sqlDB.SetMaxIdleConns(maxOpen)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{g: g, engine: o.Engine, log: o.Logger}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("connect to %s database at %s: %w", o.Engine, where(o), err)
	}
	if err := db.SyncClock(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	return db, nil
}

func where(o Options) string {
	if o.Engine.IsSQLite() {
		return o.Path
	}
	return fmt.Sprintf("%s:%d/%s", o.Host, o.Port, o.Name)
}

func dialector(o Options) (gorm.Dialector, error) {
	extra, err := url.ParseQuery(o.Params)
	if err != nil {
		return nil, fmt.Errorf("DB_PARAMS %q: %w", o.Params, err)
	}
	switch o.Engine {
	case SQLite:
		return sqliteDialector(o.Path)
	case Postgres:
		q := url.Values{"sslmode": {"disable"}, "TimeZone": {"UTC"}}
		for k, v := range extra {
			q[k] = v
		}
		u := url.URL{Scheme: "postgres", Host: hostPort(o.Host, o.Port, 5432), Path: "/" + o.Name, RawQuery: q.Encode()}
		if o.User != "" {
			u.User = url.UserPassword(o.User, o.Password)
		}
		return postgres.Open(u.String()), nil
	case MySQL:
		q := url.Values{"parseTime": {"true"}, "loc": {"UTC"}, "charset": {"utf8mb4"}, "time_zone": {"'+00:00'"},
			// RowsAffected counts matched rows, as on the other engines, so a
			// conditional UPDATE that writes the same value still reports a match.
			"clientFoundRows": {"true"},
			// Arguments are quoted by the driver: one round trip per
			// statement instead of prepare, execute and close.
			"interpolateParams": {"true"}}
		for k, v := range extra {
			q[k] = v
		}
		dsn := fmt.Sprintf("%s:%s@tcp(%s)/%s?%s", o.User, o.Password, hostPort(o.Host, o.Port, 3306), o.Name, q.Encode())
		return mysql.New(mysql.Config{DSN: dsn}), nil
	case SQLServer:
		q := url.Values{"database": {o.Name}}
		for k, v := range extra {
			q[k] = v
		}
		u := url.URL{Scheme: "sqlserver", Host: hostPort(o.Host, o.Port, 1433), RawQuery: q.Encode()}
		if o.User != "" {
			u.User = url.UserPassword(o.User, o.Password)
		}
		return sqlserver.Open(u.String()), nil
	}
	return nil, fmt.Errorf("DB_ENGINE %q is not supported", o.Engine)
}

func hostPort(h string, p, def int) string {
	if h == "" {
		h = "127.0.0.1"
	}
	if p == 0 {
		p = def
	}
	return h + ":" + strconv.Itoa(p)
}

// Engine reports which database this is.
func (db *DB) Engine() Engine { return db.engine }

// Close closes the pool. A second Close is harmless.
func (db *DB) Close() error {
	var err error
	db.closeOnce.Do(func() {
		var s *sql.DB
		if s, err = db.g.DB(); err == nil {
			err = s.Close()
		}
	})
	return err
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	s, err := db.g.DB()
	if err != nil {
		return err
	}
	return s.PingContext(ctx)
}

// Stats returns the connection pool statistics.
func (db *DB) Stats() sql.DBStats {
	s, err := db.g.DB()
	if err != nil {
		return sql.DBStats{}
	}
	return s.Stats()
}

type txKey struct{}

// conn returns the transaction carried by ctx, or the pool.
func (db *DB) conn(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx
	}
	return db.g.WithContext(ctx)
}

// InTx reports whether ctx carries a transaction.
func InTx(ctx context.Context) bool {
	_, ok := ctx.Value(txKey{}).(*gorm.DB)
	return ok
}

// Tx runs fn in a transaction: committed when fn returns nil, rolled back
// otherwise. If ctx already carries a transaction, fn joins it.
func (db *DB) Tx(ctx context.Context, fn func(ctx context.Context) error) error {
	if InTx(ctx) {
		return fn(ctx)
	}
	return db.g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(context.WithValue(ctx, txKey{}, tx))
	})
}

// Now is the database's clock, estimated from the local clock and the offset
// measured by the last SyncClock. Always UTC.
func (db *DB) Now() time.Time {
	return time.Now().Add(time.Duration(db.offset.Load())).UTC()
}

// SyncClock measures the offset between the database's clock and the local
// one. Servers call it every minute; leases and timers use Now.
func (db *DB) SyncClock(ctx context.Context) error {
	q := db.engine.nowSQL()
	if q == "" {
		db.offset.Store(0)
		return nil
	}
	before := time.Now()
	var t time.Time
	if err := db.g.WithContext(ctx).Raw(q).Row().Scan(&t); err != nil {
		return fmt.Errorf("read database clock: %w", err)
	}
	after := time.Now()
	mid := before.Add(after.Sub(before) / 2)
	db.offset.Store(int64(t.Sub(mid)))
	return nil
}

// ClockOffset is the last measured database clock minus local clock.
func (db *DB) ClockOffset() time.Duration { return time.Duration(db.offset.Load()) }

// notFound maps gorm's not-found error to ErrNotFound.
func notFound(err error, what string) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// IsDuplicate reports whether err is a unique-constraint violation.
func IsDuplicate(err error) bool { return errors.Is(err, gorm.ErrDuplicatedKey) }
