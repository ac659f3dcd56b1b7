// Command cluster benchmarks the Booster configuration with real omflow
// processes on 127.0.0.x and a real PostgreSQL (the clustertest harness):
//
//   - failover: the time from SIGKILL of the active booster to the
//     standby's election and to the first job it dispatches, p50/p99 over
//     -runs runs, and the same for a clean handover (SIGTERM);
//   - dispatch: flow steps per second through the booster, and through
//     servers claiming from the database alone (degraded mode), booster
//     CPU time per 1,000 jobs, and River (bench/river, a module of its own)
//     inserting and working the same number of trivial jobs on the same
//     PostgreSQL; lost and duplicated steps are counted in every mode.
//
// The results replace the section "## Booster: failover and dispatch" of
// the -out file (docs/BENCHMARKS.md); other sections are kept.
//
//	go run ./bench/cluster -out docs/BENCHMARKS.md
//	go run ./bench/cluster -runs 5 -jobs 500        # a quick look
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/omflow/omflow/bench/internal/machine"
	"github.com/omflow/omflow/bench/internal/mdsection"
	"github.com/omflow/omflow/clustertest"
	"github.com/omflow/omflow/store"
)

// Section is the heading of this benchmark's section of docs/BENCHMARKS.md.
const Section = "## Booster: failover and dispatch"

type flags struct {
	binary, out, riverDir, workDir, only string
	runs, jobs, workers                  int
	trickle                              float64
	pg                                   pgFlags
	keep                                 bool
}

type pgFlags struct {
	host, user, db string
	port           int
}

func main() {
	var f flags
	flag.StringVar(&f.binary, "binary", "", "the omflow binary; default: build it from this checkout")
	flag.StringVar(&f.out, "out", "", "Markdown file whose section \""+Section+"\" is replaced by the results")
	flag.IntVar(&f.runs, "runs", 20, "failover runs of each kind (crash, clean)")
	flag.IntVar(&f.jobs, "jobs", 3000, "dispatch: tickets (one job each) per mode, and River jobs")
	flag.IntVar(&f.workers, "workers", 8, "WORKERS of each of the three servers (River gets 3× as many)")
	flag.Float64Var(&f.trickle, "trickle", 40, "failover: tickets per second filed in the background, so there is always work to dispatch")
	flag.StringVar(&f.riverDir, "river", "bench/river", "directory of the River benchmark module; empty = skip River")
	flag.StringVar(&f.only, "only", "", "run only \"failover\" or \"dispatch\"")
	flag.StringVar(&f.pg.host, "pg-host", "127.0.0.1", "PostgreSQL host")
	flag.IntVar(&f.pg.port, "pg-port", 5432, "PostgreSQL port")
	flag.StringVar(&f.pg.user, "pg-user", "postgres", "PostgreSQL user (creates and drops schemas omcb_<random>)")
	flag.StringVar(&f.pg.db, "pg-db", "test", "PostgreSQL database")
	flag.StringVar(&f.workDir, "workdir", "", "directory for node directories and logs; default temporary")
	flag.BoolVar(&f.keep, "keep", false, "keep node logs even when everything passed")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, f, log); err != nil {
		fmt.Fprintf(os.Stderr, "bench/cluster: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, f flags, log *slog.Logger) error {
	info := machine.Describe(ctx, ".")
	info.PostgreSQL = pgVersion(ctx, f.pg)
	bin := f.binary
	if bin == "" {
		dir, err := os.MkdirTemp("", "omflow-bench-bin-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		log.Info("building omflow")
		if bin, err = clustertest.BuildBinary(ctx, dir); err != nil {
			return err
		}
	}
	rep := report{Info: info, Runs: f.runs, Jobs: f.jobs, Workers: f.workers, Trickle: f.trickle}
	if f.only == "" || f.only == "failover" {
		rep.Failover, rep.FailoverErr = failover(ctx, f, bin, log)
		if rep.FailoverErr != nil {
			log.Error("failover benchmark failed", "err", rep.FailoverErr)
		}
	}
	if f.only == "" || f.only == "dispatch" {
		rep.Dispatch = dispatch(ctx, f, bin, log)
	}
	text := rep.Markdown()
	fmt.Println(Section)
	fmt.Println()
	fmt.Print(text)
	if f.out != "" {
		old, err := os.ReadFile(f.out)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		doc := mdsection.Replace(string(old), Section, text)
		if err := os.WriteFile(f.out, []byte(doc), 0o644); err != nil {
			return err
		}
		log.Info("results written", "file", f.out, "section", Section)
	}
	if rep.FailoverErr != nil {
		return fmt.Errorf("failover: %w", rep.FailoverErr)
	}
	for _, d := range rep.Dispatch {
		if d.Err != nil {
			return fmt.Errorf("dispatch %s: %w", d.Mode, d.Err)
		}
	}
	return nil
}

// benchTB lets the test harness run outside `go test`: Fatalf ends the
// current part with an error, cleanups run when it ends.
type benchTB struct {
	log      *slog.Logger
	mu       sync.Mutex
	cleanups []func()
	failed   bool
	keep     bool
}

type fatal struct{ msg string }

func (b *benchTB) Helper()                        {}
func (b *benchTB) Logf(format string, a ...any)   { b.log.Info(fmt.Sprintf(format, a...)) }
func (b *benchTB) Failed() bool                   { b.mu.Lock(); defer b.mu.Unlock(); return b.failed || b.keep }
func (b *benchTB) Cleanup(fn func())              { b.mu.Lock(); b.cleanups = append(b.cleanups, fn); b.mu.Unlock() }
func (b *benchTB) Fatalf(format string, a ...any) { b.fail(); panic(fatal{fmt.Sprintf(format, a...)}) }

func (b *benchTB) fail() { b.mu.Lock(); b.failed = true; b.mu.Unlock() }

// part runs fn with a fresh benchTB, turning a Fatalf (or a panic) into an
// error and running the cleanups (processes killed, schemas dropped).
func part(log *slog.Logger, keep bool, fn func(tb *benchTB) error) (err error) {
	tb := &benchTB{log: log, keep: keep}
	defer func() {
		if p := recover(); p != nil {
			tb.fail()
			if f, ok := p.(fatal); ok {
				err = errors.New(f.msg)
			} else {
				err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
			}
		}
		if err != nil {
			tb.fail()
		}
		for i := len(tb.cleanups) - 1; i >= 0; i-- {
			tb.cleanups[i]()
		}
	}()
	return fn(tb)
}

// schema creates a fresh PostgreSQL schema for one cluster and drops it at
// cleanup.
func schema(tb *benchTB, pg pgFlags) store.Options {
	name := fmt.Sprintf("omcb_%d", time.Now().UnixNano())
	db, err := sql.Open("pgx", pgDSN(pg))
	if err != nil {
		tb.Fatalf("postgres: %v", err)
	}
	if _, err := db.Exec("CREATE SCHEMA " + name); err != nil {
		db.Close()
		tb.Fatalf("postgres: create schema (is PostgreSQL running on %s:%d?): %v", pg.host, pg.port, err)
	}
	tb.Cleanup(func() {
		if _, err := db.Exec("DROP SCHEMA " + name + " CASCADE"); err != nil {
			tb.log.Warn("drop schema", "schema", name, "err", err)
		}
		db.Close()
	})
	return store.Options{Engine: store.Postgres, Host: pg.host, Port: pg.port, User: pg.user, Name: pg.db, Params: "search_path=" + name}
}

func pgDSN(pg pgFlags) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", pg.host, pg.port, pg.user, pg.db)
}

func pgVersion(ctx context.Context, pg pgFlags) string {
	db, err := sql.Open("pgx", pgDSN(pg))
	if err != nil {
		return ""
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctx, "SHOW server_version").Scan(&v); err != nil {
		return ""
	}
	return v
}

// appFile finds a file of bench/cluster/testdata whether the command runs
// from the repository root or from its own directory.
func appFile(name string) string {
	for _, p := range []string{filepath.Join("bench", "cluster", "testdata", name), filepath.Join("testdata", name)} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join("bench", "cluster", "testdata", name)
}
