// Command river is the River side of the booster dispatch benchmark
// (bench/cluster): on a fresh PostgreSQL schema it inserts N trivial jobs
// one at a time from several goroutines while one River client works
// them, each job recording its number in a table in the same transaction
// that completes it, and prints what it measured as JSON: jobs per second,
// and the jobs lost or worked twice.
//
// It lives in a module of its own so that the product's go.mod never
// depends on River. bench/cluster runs it with `go run`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// Result is printed on standard output.
type Result struct {
	River      string  `json:"river"` // module version
	Jobs       int     `json:"jobs"`
	Workers    int     `json:"workers"`
	Inserters  int     `json:"inserters"`
	Seconds    float64 `json:"seconds"`  // first insert to last job worked
	Inserted   float64 `json:"inserted"` // first insert to last insert
	JobsPerSec float64 `json:"jobs_per_sec"`
	Lost       int     `json:"lost"`       // inserted but never recorded as worked
	Duplicated int     `json:"duplicated"` // recorded twice
}

type stepArgs struct {
	N int64 `json:"n"`
}

func (stepArgs) Kind() string { return "omflow_bench_step" }

// stepWorker records the job's number and completes the job in one
// transaction, as an omflow server commits a step with its job's end.
type stepWorker struct {
	river.WorkerDefaults[stepArgs]
	pool       *pgxpool.Pool
	schema     string
	worked     atomic.Int64
	duplicated atomic.Int64
	done       chan struct{}
	want       int64
	once       sync.Once
}

func (w *stepWorker) Work(ctx context.Context, job *river.Job[stepArgs]) error {
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	tag, err := tx.Exec(ctx, "INSERT INTO "+w.schema+".bench_done (n) VALUES ($1) ON CONFLICT DO NOTHING", job.Args.N)
	if err != nil {
		return fmt.Errorf("record step %d: %w", job.Args.N, err)
	}
	if tag.RowsAffected() == 0 {
		w.duplicated.Add(1)
	}
	if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
		return fmt.Errorf("complete job %d: %w", job.ID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit step %d: %w", job.Args.N, err)
	}
	if w.worked.Add(1) >= w.want {
		w.once.Do(func() { close(w.done) })
	}
	return nil
}

func main() {
	dsn := flag.String("dsn", "host=127.0.0.1 port=5432 user=postgres dbname=test sslmode=disable", "PostgreSQL connection string")
	jobs := flag.Int("jobs", 6000, "number of jobs")
	workers := flag.Int("workers", 24, "River MaxWorkers (omflow: 3 servers × WORKERS 8)")
	inserters := flag.Int("inserters", 12, "goroutines inserting jobs one at a time (omflow: 3 servers × 4 clients)")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	res, err := run(ctx, *dsn, *jobs, *workers, *inserters)
	if err != nil {
		fmt.Fprintln(os.Stderr, "river bench:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
}

func run(ctx context.Context, dsn string, jobs, workers, inserters int) (Result, error) {
	res := Result{River: riverVersion(), Jobs: jobs, Workers: workers, Inserters: inserters}
	schema := fmt.Sprintf("river_bench_%d", time.Now().UnixNano())
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return res, fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return res, fmt.Errorf("create schema: %w", err)
	}
	defer func() { _, _ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") }()
	if _, err := admin.Exec(ctx, "CREATE TABLE "+schema+".bench_done (n bigint PRIMARY KEY)"); err != nil {
		return res, fmt.Errorf("create table: %w", err)
	}

	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return res, fmt.Errorf("parse dsn: %w", err)
	}
	cfg.MaxConns = int32(workers + inserters + 8)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return res, fmt.Errorf("pool: %w", err)
	}
	defer pool.Close()
	driver := riverpgxv5.New(pool)
	mig, err := rivermigrate.New(driver, &rivermigrate.Config{Schema: schema})
	if err != nil {
		return res, fmt.Errorf("migrator: %w", err)
	}
	if _, err := mig.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return res, fmt.Errorf("migrate river: %w", err)
	}

	w := &stepWorker{pool: pool, schema: schema, done: make(chan struct{}), want: int64(jobs)}
	ws := river.NewWorkers()
	river.AddWorker(ws, w)
	client, err := river.NewClient(driver, &river.Config{
		Schema:  schema,
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}},
		Workers: ws,
		Logger:  nil,
	})
	if err != nil {
		return res, fmt.Errorf("river client: %w", err)
	}
	if err := client.Start(ctx); err != nil {
		return res, fmt.Errorf("start river: %w", err)
	}
	defer func() {
		sctx, c := context.WithTimeout(context.Background(), 30*time.Second)
		defer c()
		_ = client.Stop(sctx)
	}()

	start := time.Now()
	next := make(chan int64)
	go func() {
		defer close(next)
		for i := range jobs {
			select {
			case next <- int64(i):
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, inserters)
	for range inserters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				if _, err := client.Insert(ctx, stepArgs{N: n}, nil); err != nil {
					errs <- fmt.Errorf("insert job %d: %w", n, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	res.Inserted = time.Since(start).Seconds()
	close(errs)
	if err := errors.Join(collect(errs)...); err != nil {
		return res, err
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		return res, fmt.Errorf("%d of %d jobs worked before the timeout", w.worked.Load(), jobs)
	}
	res.Seconds = time.Since(start).Seconds()
	res.JobsPerSec = float64(jobs) / res.Seconds
	var recorded int
	if err := admin.QueryRow(ctx, "SELECT COUNT(*) FROM "+schema+".bench_done").Scan(&recorded); err != nil {
		return res, fmt.Errorf("count: %w", err)
	}
	res.Lost = jobs - recorded
	res.Duplicated = int(w.duplicated.Load())
	return res, nil
}

func collect(ch <-chan error) []error {
	var out []error
	for e := range ch {
		out = append(out, e)
	}
	return out
}

func riverVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/riverqueue/river" {
			return d.Version
		}
	}
	return "unknown"
}
