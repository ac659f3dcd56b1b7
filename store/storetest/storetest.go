// Package storetest opens real databases for tests: a fresh, migrated schema
// per test on every engine the test run covers, dropped at cleanup.
//
// OMFLOW_TEST_DBS lists the engines (default "sqlite,postgres,mysql"). An
// engine that is listed but cannot be reached fails the test: it is never
// skipped silently. Hosts default to this machine's services and can be
// moved with OMFLOW_TEST_PG_HOST, OMFLOW_TEST_PG_PORT, OMFLOW_TEST_PG_USER,
// OMFLOW_TEST_PG_DB, OMFLOW_TEST_MYSQL_HOST, OMFLOW_TEST_MYSQL_PORT,
// OMFLOW_TEST_MYSQL_USER, OMFLOW_TEST_MYSQL_PASSWORD.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/omflow/omflow/store"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// Engines returns the engines this test run covers.
func Engines() []store.Engine {
	v := os.Getenv("OMFLOW_TEST_DBS")
	if v == "" {
		v = "sqlite,postgres,mysql"
	}
	var out []store.Engine
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			e, err := store.ParseEngine(s)
			if err != nil {
				panic(fmt.Sprintf("OMFLOW_TEST_DBS: %v", err))
			}
			out = append(out, e)
		}
	}
	return out
}

// Each runs fn as a subtest once per engine, each with a fresh database.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, e := range Engines() {
		t.Run(string(e), func(t *testing.T) { fn(t, Open(t, e)) })
	}
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return v
	}
	return def
}

// Options returns connection options for a fresh, empty database of engine
// e, creating it; cleanup drops it. Use it for tests that run the binary.
func Options(t testing.TB, e store.Engine) store.Options {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "omt_" + hex.EncodeToString(b)
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	switch e {
	case store.SQLite:
		return store.Options{Engine: e, Path: filepath.Join(t.TempDir(), "omflow.db"), Logger: logger}
	case store.Postgres:
		o := store.Options{Engine: e, Host: env("OMFLOW_TEST_PG_HOST", "127.0.0.1"), Port: envInt("OMFLOW_TEST_PG_PORT", 5432),
			User: env("OMFLOW_TEST_PG_USER", "postgres"), Name: env("OMFLOW_TEST_PG_DB", "test"), Logger: logger}
		admin := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", o.Host, o.Port, o.User, o.Name)
		exec(t, "pgx", admin, "CREATE SCHEMA "+name)
		t.Cleanup(func() { exec(t, "pgx", admin, "DROP SCHEMA "+name+" CASCADE") })
		o.Params = "search_path=" + name
		return o
	case store.MySQL:
		o := store.Options{Engine: e, Host: env("OMFLOW_TEST_MYSQL_HOST", "127.0.0.1"), Port: envInt("OMFLOW_TEST_MYSQL_PORT", 3306),
			User: env("OMFLOW_TEST_MYSQL_USER", "root"), Password: os.Getenv("OMFLOW_TEST_MYSQL_PASSWORD"), Name: name, Logger: logger}
		admin := fmt.Sprintf("%s:%s@tcp(%s:%d)/", o.User, o.Password, o.Host, o.Port)
		exec(t, "mysql", admin, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
		t.Cleanup(func() { exec(t, "mysql", admin, "DROP DATABASE "+name) })
		return o
	}
	t.Fatalf("storetest: engine %s cannot run here", e)
	return store.Options{}
}

// Open returns a migrated database of engine e, closed at cleanup.
func Open(t testing.TB, e store.Engine) *store.DB {
	t.Helper()
	o := Options(t, e)
	db, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("storetest: open %s (is the server running? .ci/run starts it): %v", e, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("storetest: migrate %s: %v", e, err)
	}
	return db
}

func exec(t testing.TB, driver, dsn, stmt string) {
	t.Helper()
	c, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("storetest: %s: %v", driver, err)
	}
	defer c.Close()
	if _, err := c.Exec(stmt); err != nil {
		t.Fatalf("storetest: %s %q (is the server running? .ci/run starts it): %v", driver, stmt, err)
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
