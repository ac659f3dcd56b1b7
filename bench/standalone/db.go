package standalone

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/omflow/omflow/store"
)

// PG says where the PostgreSQL server for the benchmark is.
type PG struct {
	Host string
	Port int
	User string
	DB   string
}

func (p PG) dsn(params url.Values) string {
	q := url.Values{"sslmode": {"disable"}, "TimeZone": {"UTC"}}
	for k, v := range params {
		q[k] = v
	}
	u := url.URL{Scheme: "postgres", User: url.User(p.User), Host: fmt.Sprintf("%s:%d", p.Host, p.Port), Path: "/" + p.DB, RawQuery: q.Encode()}
	return u.String()
}

func openGorm(d gorm.Dialector) (*gorm.DB, error) {
	return gorm.Open(d, &gorm.Config{Logger: logger.Discard, SkipDefaultTransaction: true,
		NowFunc: func() time.Time { return time.Now().UTC() }})
}

// Schema is a throw-away PostgreSQL schema for one benchmark run.
type Schema struct {
	Name string
	g    *gorm.DB
}

// CreateSchema makes a schema omb_<random> in the database.
func CreateSchema(ctx context.Context, p PG) (*Schema, error) {
	g, err := openGorm(postgres.Open(p.dsn(nil)))
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL %s:%d/%s: %w", p.Host, p.Port, p.DB, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "omb_" + hex.EncodeToString(b)
	if err := g.WithContext(ctx).Exec("CREATE SCHEMA " + name).Error; err != nil {
		closeGorm(g)
		return nil, fmt.Errorf("create schema %s: %w", name, err)
	}
	return &Schema{Name: name, g: g}, nil
}

// Version is the server's version (server_version).
func (s *Schema) Version(ctx context.Context) string {
	var v string
	_ = s.g.WithContext(ctx).Raw("SHOW server_version").Scan(&v).Error
	return v
}

// Drop removes the schema and everything in it.
func (s *Schema) Drop(ctx context.Context) error {
	defer closeGorm(s.g)
	if err := s.g.WithContext(ctx).Exec("DROP SCHEMA " + s.Name + " CASCADE").Error; err != nil {
		return fmt.Errorf("drop schema %s: %w", s.Name, err)
	}
	return nil
}

func closeGorm(g *gorm.DB) {
	if sqlDB, err := g.DB(); err == nil {
		_ = sqlDB.Close()
	}
}

// Watcher reads the server's database beside it to see how far the
// engine got: pending jobs, open tasks, per-ticket times. It only reads.
type Watcher struct {
	g        *gorm.DB
	postgres bool
}

// WatchSQLite opens the server's SQLite file for reading.
func WatchSQLite(path string) (*Watcher, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Set("_time_format", "sqlite")
	g, err := openGorm(sqlite.Open("file:" + path + "?" + q.Encode()))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &Watcher{g: g}, nil
}

// WatchPostgres opens the schema the server uses.
func WatchPostgres(p PG, schema string) (*Watcher, error) {
	g, err := openGorm(postgres.Open(p.dsn(url.Values{"search_path": {schema}})))
	if err != nil {
		return nil, fmt.Errorf("watch schema %s: %w", schema, err)
	}
	sqlDB, err := g.DB()
	if err == nil {
		sqlDB.SetMaxOpenConns(2)
	}
	return &Watcher{g: g, postgres: true}, nil
}

// Close closes the watcher's connections.
func (w *Watcher) Close() { closeGorm(w.g) }

// Pending counts jobs still to run (ready or leased) and failed jobs.
func (w *Watcher) Pending(ctx context.Context) (pending, failed int64, err error) {
	type row struct {
		State string
		N     int64
	}
	var rows []row
	err = w.g.WithContext(ctx).Model(&store.Job{}).Select("state, COUNT(*) AS n").Group("state").Scan(&rows).Error
	if err != nil {
		return 0, 0, fmt.Errorf("count jobs: %w", err)
	}
	for _, r := range rows {
		switch r.State {
		case store.JobFailed:
			failed += r.N
		default:
			pending += r.N
		}
	}
	return pending, failed, nil
}

// MaxTicketID is the highest ticket id so far (0 for none).
func (w *Watcher) MaxTicketID(ctx context.Context) (int64, error) {
	var id *int64
	if err := w.g.WithContext(ctx).Model(&store.Ticket{}).Select("MAX(id)").Scan(&id).Error; err != nil {
		return 0, fmt.Errorf("max ticket id: %w", err)
	}
	if id == nil {
		return 0, nil
	}
	return *id, nil
}

// Advance says how the tickets after afterID got on: how many there are,
// how many stopped in error, and for each one that reached an open task
// the time from filing to the task.
type Advance struct {
	Tickets  int64
	Errored  int64
	Waiting  []time.Duration // filed → first task committed, per ticket with a task
	NoTask   int64           // tickets without a task
	OpenTask int64           // open tasks of these tickets
}

// Advanced reads the progress of tickets with id > afterID.
func (w *Watcher) Advanced(ctx context.Context, afterID int64) (Advance, error) {
	var a Advance
	db := w.g.WithContext(ctx)
	if err := db.Model(&store.Ticket{}).Where("id > ?", afterID).Count(&a.Tickets).Error; err != nil {
		return a, fmt.Errorf("count tickets: %w", err)
	}
	if err := db.Model(&store.Ticket{}).Where("id > ? AND error <> ''", afterID).Count(&a.Errored).Error; err != nil {
		return a, fmt.Errorf("count tickets in error: %w", err)
	}
	if err := db.Model(&store.Task{}).Where("ticket_id > ? AND state = ?", afterID, store.TaskOpen).Count(&a.OpenTask).Error; err != nil {
		return a, fmt.Errorf("count open tasks: %w", err)
	}
	type row struct {
		ID    int64
		Filed time.Time
		Task  time.Time
	}
	var rows []row
	err := db.Table("tickets").Select("tickets.id AS id, tickets.created_at AS filed, tasks.created_at AS task").
		Joins("JOIN tasks ON tasks.ticket_id = tickets.id").Where("tickets.id > ?", afterID).Scan(&rows).Error
	if err != nil {
		return a, fmt.Errorf("read ticket and task times: %w", err)
	}
	first := map[int64]time.Duration{}
	for _, r := range rows {
		d := r.Task.Sub(r.Filed)
		if old, ok := first[r.ID]; !ok || d < old {
			first[r.ID] = d
		}
	}
	for _, d := range first {
		a.Waiting = append(a.Waiting, d)
	}
	a.NoTask = a.Tickets - int64(len(first))
	return a, nil
}

// TableStats are PostgreSQL's row counters of one table.
type TableStats struct {
	Table                                  string
	SeqScan, IdxScan                       int64
	Inserted, Updated, HotUpdated, Deleted int64
}

// TableStats reads pg_stat_user_tables for the watched schema (PostgreSQL
// only; nil otherwise). Statistics reach the view with a short delay.
func (w *Watcher) TableStats(ctx context.Context, schema string) (map[string]TableStats, error) {
	if !w.postgres {
		return nil, nil
	}
	var rows []struct {
		Relname                               string
		SeqScan, IdxScan                      *int64
		NTupIns, NTupUpd, NTupHotUpd, NTupDel int64
	}
	err := w.g.WithContext(ctx).Raw(`SELECT relname, seq_scan, idx_scan, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del
		FROM pg_stat_user_tables WHERE schemaname = ?`, schema).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read table statistics: %w", err)
	}
	out := map[string]TableStats{}
	for _, r := range rows {
		out[r.Relname] = TableStats{Table: r.Relname, SeqScan: deref(r.SeqScan), IdxScan: deref(r.IdxScan),
			Inserted: r.NTupIns, Updated: r.NTupUpd, HotUpdated: r.NTupHotUpd, Deleted: r.NTupDel}
	}
	return out, nil
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// Connections returns how many connections the PostgreSQL server has open
// (all databases and users) and its max_connections.
func (w *Watcher) Connections(ctx context.Context) (inUse, limit int64, err error) {
	if !w.postgres {
		return 0, 0, nil
	}
	if err := w.g.WithContext(ctx).Raw("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'").Scan(&inUse).Error; err != nil {
		return 0, 0, fmt.Errorf("count connections: %w", err)
	}
	var s string
	if err := w.g.WithContext(ctx).Raw("SHOW max_connections").Scan(&s).Error; err != nil {
		return 0, 0, fmt.Errorf("read max_connections: %w", err)
	}
	_, err = fmt.Sscan(s, &limit)
	return inUse, limit, err
}

// BackendPIDs lists the process ids of the PostgreSQL backends serving
// connections whose application_name is app.
func (w *Watcher) BackendPIDs(ctx context.Context, app string) ([]int, error) {
	if !w.postgres {
		return nil, nil
	}
	var pids []int
	if err := w.g.WithContext(ctx).Raw("SELECT pid FROM pg_stat_activity WHERE application_name = ?", app).Scan(&pids).Error; err != nil {
		return nil, fmt.Errorf("list backends of %s: %w", app, err)
	}
	return pids, nil
}
