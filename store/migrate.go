package store

import (
	"context"
	"fmt"
	"io"
	"time"

	"gorm.io/gorm"
)

// migration is one versioned schema change. Versions only grow; a released
// migration is never edited. Each must leave the schema usable by the
// previous release, so that servers can be patched one at a time.
type migration struct {
	Version int
	Name    string
	Up      func(tx *gorm.DB) error
}

// migrations is the ordered list of schema changes.
var migrations = []migration{
	{1, "initial schema", func(tx *gorm.DB) error {
		// The first release creates the tables from the models. Once a model
		// changes, this migration must keep a frozen copy of the old struct.
		return tx.AutoMigrate(allModels()...)
	}},
}

// SchemaMigration records an applied migration.
type SchemaMigration struct {
	Version   int    `gorm:"primaryKey;autoIncrement:false"`
	Name      string `gorm:"size:191"`
	AppliedAt time.Time
}

// LatestSchema is the schema version this binary expects.
func LatestSchema() int { return migrations[len(migrations)-1].Version }

// Migrate applies every pending migration. Several processes may call it at
// once: a database lock lets one of them do the work while the others wait.
func (db *DB) Migrate(ctx context.Context) error {
	return db.g.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		// Every statement starts from a fresh session on the one connection
		// that holds the lock, so no state leaks from one to the next.
		c := conn.Session(&gorm.Session{NewDB: true})
		unlock, err := db.lockMigrations(c)
		if err != nil {
			return err
		}
		defer unlock()
		if err := c.AutoMigrate(&SchemaMigration{}); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		applied, err := appliedVersions(c)
		if err != nil {
			return err
		}
		for _, m := range migrations {
			if applied[m.Version] {
				continue
			}
			start := time.Now()
			if err := m.Up(c.Session(&gorm.Session{NewDB: true})); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
			}
			if err := c.Session(&gorm.Session{NewDB: true}).Create(&SchemaMigration{Version: m.Version, Name: m.Name, AppliedAt: time.Now().UTC()}).Error; err != nil {
				return fmt.Errorf("record migration %d: %w", m.Version, err)
			}
			db.log.Info("applied migration", "version", m.Version, "name", m.Name, "took", time.Since(start).Round(time.Millisecond))
		}
		return nil
	})
}

func appliedVersions(c *gorm.DB) (map[int]bool, error) {
	var rows []SchemaMigration
	if err := c.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	m := make(map[int]bool, len(rows))
	for _, r := range rows {
		m[r.Version] = true
	}
	return m, nil
}

// lockMigrations takes a session-level lock on the connection c. SQLite
// needs none: its write lock already serialises the one process.
func (db *DB) lockMigrations(c *gorm.DB) (func(), error) {
	const key = 5169_0001
	switch db.engine {
	case Postgres:
		if err := c.Exec("SELECT pg_advisory_lock(?)", key).Error; err != nil {
			return nil, fmt.Errorf("lock migrations: %w", err)
		}
		return func() { c.Exec("SELECT pg_advisory_unlock(?)", key) }, nil
	case MySQL:
		var got int
		if err := c.Raw("SELECT GET_LOCK('omflow_migrate', 300)").Row().Scan(&got); err != nil || got != 1 {
			return nil, fmt.Errorf("lock migrations: got=%d: %v", got, err)
		}
		return func() { c.Exec("SELECT RELEASE_LOCK('omflow_migrate')") }, nil
	case SQLServer:
		// sp_getapplock reports a timeout or a deadlock in its return
		// value (below 0), not as an error: read it.
		var got int
		err := c.Raw("DECLARE @r int; EXEC @r = sp_getapplock @Resource = 'omflow_migrate', @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = 300000; SELECT @r").Row().Scan(&got)
		if err != nil {
			return nil, fmt.Errorf("lock migrations: %w", err)
		}
		if got < 0 {
			return nil, fmt.Errorf("lock migrations: sp_getapplock returned %d (timed out after 5 minutes or chosen as deadlock victim)", got)
		}
		return func() {
			c.Exec("EXEC sp_releaseapplock @Resource = 'omflow_migrate', @LockOwner = 'Session'")
		}, nil
	}
	return func() {}, nil
}

// SchemaVersion returns the highest applied migration, 0 for an empty
// database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	c := db.g.WithContext(ctx)
	if !c.Migrator().HasTable(&SchemaMigration{}) {
		return 0, nil
	}
	var v *int
	if err := c.Model(&SchemaMigration{}).Select("MAX(version)").Scan(&v).Error; err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

// WaitSchema blocks until the database has been migrated to this binary's
// schema version, logging what it waits for. Cluster nodes use it instead of
// migrating themselves.
func (db *DB) WaitSchema(ctx context.Context) error {
	delay := 500 * time.Millisecond
	for {
		v, err := db.SchemaVersion(ctx)
		if err == nil && v >= LatestSchema() {
			return nil
		}
		db.log.Warn("waiting for the database schema: run 'omflow db migrate'", "have", v, "want", LatestSchema(), "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if delay < 10*time.Second {
			delay *= 2
		}
	}
}

// WriteStatus prints every known migration and whether it is applied.
func (db *DB) WriteStatus(ctx context.Context, w io.Writer) error {
	c := db.g.WithContext(ctx)
	applied := map[int]SchemaMigration{}
	if c.Migrator().HasTable(&SchemaMigration{}) {
		var rows []SchemaMigration
		if err := c.Find(&rows).Error; err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		for _, r := range rows {
			applied[r.Version] = r
		}
	}
	fmt.Fprintf(w, "engine: %s\n", db.engine)
	pending := 0
	for _, m := range migrations {
		if r, ok := applied[m.Version]; ok {
			fmt.Fprintf(w, "  %3d  %-30s applied %s\n", m.Version, m.Name, r.AppliedAt.Format(time.RFC3339))
		} else {
			pending++
			fmt.Fprintf(w, "  %3d  %-30s PENDING\n", m.Version, m.Name)
		}
	}
	fmt.Fprintf(w, "%d pending\n", pending)
	return nil
}
