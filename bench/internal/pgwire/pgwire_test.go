package pgwire

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
)

func pgAddr() string {
	if a := os.Getenv("OMFLOW_BENCH_PG"); a != "" {
		return a
	}
	return "127.0.0.1:5432"
}

func TestProxyCountsStatements(t *testing.T) {
	p, err := Listen(pgAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dsn := fmt.Sprintf("postgres://postgres@%s/test?sslmode=disable", p.Addr())
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.PingContext(ctx); err != nil {
		t.Skipf("PostgreSQL at %s not reachable: %v", pgAddr(), err)
	}
	p.Reset()
	for i := 0; i < 3; i++ {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT   $1::int  + 1", i).Scan(&n); err != nil || n != i+1 {
			t.Fatalf("query through proxy: %d, %v", n, err)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "SELECT 1 WHERE $1::int = 2", 2); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	c := p.Snapshot()
	if got := c.Statements["SELECT $1::int + 1"]; got != 3 {
		t.Errorf("parametrised statement counted %d times, want 3: %v", got, c.Statements)
	}
	if c.Statements["SELECT 1 WHERE $1::int = 2"] != 1 || c.Statements["begin"]+c.Statements["BEGIN"] != 1 || c.Statements["commit"]+c.Statements["COMMIT"] != 1 {
		t.Errorf("transaction statements: %v", c.Statements)
	}
	// The driver may ping ("-- ping") before reusing a connection.
	if want := 6 + c.Statements["-- ping"]; c.Syncs < want || c.Executes != want {
		t.Errorf("syncs %d executes %d, want ≥%d and %d: %v", c.Syncs, c.Executes, want, want, c.Statements)
	}
	if top := c.Top(1); len(top) != 1 || top[0].N != 3 {
		t.Errorf("top = %v", top)
	}
	p.Reset()
	if c := p.Snapshot(); c.Executes != 0 || len(c.Statements) != 0 {
		t.Errorf("reset left %v", c)
	}
}
