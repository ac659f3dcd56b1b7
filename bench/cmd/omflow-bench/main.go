// Command omflow-bench measures a standalone OMFLOW Server: it runs the real
// omflow binary on SQLite and on PostgreSQL, files tickets through the REST
// API at several concurrency levels and prints (and with -out writes into
// docs/BENCHMARKS.md) tickets per second filed and advanced to the first
// human step, latency, errors, memory and CPU.
//
//	go run ./bench/cmd/omflow-bench -binary ./omflow -out docs/BENCHMARKS.md
//	go run ./bench/cmd/omflow-bench -binary ./omflow -engines postgres -conc 32 -duration 30s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/omflow/omflow/bench/internal/machine"
	"github.com/omflow/omflow/bench/internal/mdsection"
	"github.com/omflow/omflow/bench/standalone"
)

// Section headings of docs/BENCHMARKS.md.
const (
	sectionStandalone = "## Standalone server: filing tickets"
	sectionBooster    = "## Booster: failover and dispatch"
)

type flags struct {
	binary, out, app, workDir, pprof, profileDir, godebug, pgParams string
	engines, conc                                                   string
	duration, warmup                                                time.Duration
	tickets, workers                                                int
	pg                                                              standalone.PG
	keep, countSQL, verbose                                         bool
}

func main() {
	var f flags
	flag.StringVar(&f.binary, "binary", "./omflow", "the omflow binary to benchmark (make build); the profiling build for -pprof")
	flag.StringVar(&f.out, "out", "", "Markdown file whose section \""+sectionStandalone+"\" is replaced by the results (other sections are kept)")
	flag.StringVar(&f.engines, "engines", "sqlite,postgres", "databases to run on, comma-separated: sqlite, postgres")
	flag.StringVar(&f.conc, "conc", "1,8,32", "concurrent clients, one level each, comma-separated")
	flag.DurationVar(&f.duration, "duration", 10*time.Second, "how long each level files tickets")
	flag.IntVar(&f.tickets, "tickets", 0, "file exactly this many tickets per level instead of for -duration")
	flag.DurationVar(&f.warmup, "warmup", 2*time.Second, "tickets filed before the first level, not counted")
	flag.StringVar(&f.app, "app", "bench/testdata/minimal.json", "the OMFLOW app export to import; its first flow is used")
	flag.StringVar(&f.pg.Host, "pg-host", "127.0.0.1", "PostgreSQL host")
	flag.IntVar(&f.pg.Port, "pg-port", 5432, "PostgreSQL port")
	flag.StringVar(&f.pg.User, "pg-user", "postgres", "PostgreSQL user (creates and drops a schema omb_<random>)")
	flag.StringVar(&f.pg.DB, "pg-db", "test", "PostgreSQL database")
	flag.StringVar(&f.pgParams, "pg-params", "", "extra PostgreSQL connection parameters for the server, k=v&k=v (experiments, e.g. synchronous_commit=off; not with -out)")
	flag.IntVar(&f.workers, "workers", 0, "OMFLOW_WORKERS for the server; 0 = the server's default")
	flag.StringVar(&f.workDir, "workdir", "", "directory for the servers' data and logs; default a temporary one")
	flag.BoolVar(&f.keep, "keep", false, "keep the work directory (server logs, SQLite file)")
	flag.StringVar(&f.godebug, "godebug", "", "GODEBUG for the server, for example gctrace=1 (goes to the server log)")
	flag.StringVar(&f.pprof, "pprof", "", "address the profiling build (bench/cmd/omflow-prof) serves pprof on, e.g. 127.0.0.1:6060; CPU profiles of each level go to -profile-dir")
	flag.StringVar(&f.profileDir, "profile-dir", "bench-results", "where -pprof profiles are written")
	flag.BoolVar(&f.countSQL, "count-sql", false, "PostgreSQL: count SQL statements per ticket through a wire-protocol proxy (slows queries; cannot be combined with -out)")
	flag.BoolVar(&f.verbose, "v", false, "print rows per ticket from pg_stat_user_tables (waits 11 s after each level) and, with -count-sql, statements per ticket")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "omflow-bench files tickets into a standalone omflow server through the REST API\n"+
			"on SQLite and PostgreSQL and reports throughput, latency, errors, memory and CPU.\n\n"+
			"Example:\n  go run ./bench/cmd/omflow-bench -binary ./omflow -out docs/BENCHMARKS.md\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, f, log); err != nil {
		fmt.Fprintf(os.Stderr, "omflow-bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, f flags, log *slog.Logger) error {
	engines, err := parseEngines(f.engines)
	if err != nil {
		return err
	}
	conc, err := parseConc(f.conc)
	if err != nil {
		return err
	}
	if f.duration <= 0 && f.tickets <= 0 {
		return errors.New("-duration must be positive (or give -tickets)")
	}
	if f.pgParams != "" && f.out != "" {
		return errors.New("-pg-params changes how the server uses PostgreSQL: its numbers must not go into -out")
	}
	if f.countSQL && f.out != "" {
		return errors.New("-count-sql slows every query through its proxy: its numbers must not go into -out")
	}
	bin, err := filepath.Abs(f.binary)
	if err != nil {
		return err
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		return fmt.Errorf("-binary %s: not a file (run make build first)", f.binary)
	}
	app, err := os.ReadFile(f.app)
	if err != nil {
		return fmt.Errorf("-app: %w (run from the repository root or pass -app)", err)
	}
	info := machine.Describe(ctx, ".")
	var env []string
	if f.godebug != "" {
		env = append(env, "GODEBUG="+f.godebug)
	}
	var results []standalone.Result
	failed := false
	for _, e := range engines {
		log.Info("benchmark", "engine", e, "clients", f.conc, "duration", f.duration, "tickets", f.tickets)
		er, err := standalone.Run(ctx, standalone.Options{
			Binary: bin, Engine: e, Conc: conc, Duration: f.duration, Tickets: f.tickets, Warmup: f.warmup,
			PG: f.pg, WorkDir: f.workDir, KeepDir: f.keep, App: app, Workers: f.workers, PGParams: f.pgParams, ServerEnv: env,
			PprofAddr: f.pprof, ProfileDir: f.profileDir, CountSQL: f.countSQL, TableStats: f.verbose, Log: log,
		})
		if er != nil {
			results = append(results, er.Results...)
			if er.PGVersion != "" {
				info.PostgreSQL = er.PGVersion
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", e, err)
		}
	}
	for _, r := range results {
		if r.Errors > 0 || r.NotAdvanced > 0 || r.FailedJobs > 0 {
			failed = true
			log.Error("level had errors", "engine", r.Engine, "clients", r.Conc, "errors", r.Errors,
				"not_advanced", r.NotAdvanced, "failed_jobs", r.FailedJobs, "first_error", r.Sample)
		}
	}
	body := section(f, info, results)
	fmt.Println(sectionStandalone)
	fmt.Println()
	fmt.Print(body)
	if f.verbose {
		fmt.Print(standalone.Details(results))
	}
	if f.out != "" {
		if err := writeSection(f.out, body); err != nil {
			return err
		}
		log.Info("results written", "file", f.out, "section", sectionStandalone)
	}
	if failed {
		return errors.New("some requests failed or tickets did not advance (see the table)")
	}
	return nil
}

func parseEngines(s string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(strings.ToLower(e))
		switch e {
		case "":
		case standalone.SQLite, standalone.Postgres:
			out = append(out, e)
		case "postgresql", "pg":
			out = append(out, standalone.Postgres)
		default:
			return nil, fmt.Errorf("-engines: %q is not sqlite or postgres", e)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("-engines: name at least one of sqlite, postgres")
	}
	return out, nil
}

func parseConc(s string) ([]int, error) {
	var out []int
	for _, c := range strings.Split(s, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 || n > 4096 {
			return nil, fmt.Errorf("-conc: %q is not a number of clients from 1 to 4096", c)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("-conc: give at least one level, e.g. 1,8,32")
	}
	return out, nil
}

// section is the Markdown text of the standalone section.
func section(f flags, info machine.Info, rs []standalone.Result) string {
	var b strings.Builder
	length := fmt.Sprintf("%s per level", f.duration)
	if f.tickets > 0 {
		length = fmt.Sprintf("%d tickets per level", f.tickets)
	}
	fmt.Fprintf(&b, "Tickets filed through the REST API (`POST /api/v1/flows/bench/tickets` as the administrator, "+
		"one keep-alive connection per client) into the flow of `bench/testdata/minimal.json`: start → form 受付 → end. "+
		"One server process per database (a fresh SQLite file; a fresh PostgreSQL schema), %s after a %s warm-up.\n\n", length, f.warmup)
	b.WriteString("- **Filed/s**: tickets answered 201 per second. The filing transaction stores the ticket and its first job.\n")
	b.WriteString("- **Advanced/s**: tickets per second from the first request until every filed ticket's first human step " +
		"(an open task at 受付) was committed by the engine's workers.\n")
	b.WriteString("- **Latency**: per request at the client; **Filed → task**: per ticket, from the ticket's to its task's creation time.\n")
	b.WriteString("- **Peak RSS**: the server's VmHWM during the level (reset before each level); **Peak Go heap**: highest `go_memstats_heap_inuse_bytes` sampled once a second from `/metrics`.\n\n")
	b.WriteString(standalone.Table(rs))
	for _, r := range rs {
		if r.Errors > 0 {
			fmt.Fprintf(&b, "\nFirst failed request (%s, %d clients): `%s`\n", r.Engine, r.Conc, strings.ReplaceAll(r.Sample, "`", "'"))
			if r.PGMaxConns > 0 {
				fmt.Fprintf(&b, "PostgreSQL had up to %d of its %d client connections open during that level (every user of the server counted); "+
					"the server's log (-keep -workdir DIR) names the cause.\n", r.PGConns, r.PGMaxConns)
			}
		}
	}
	b.WriteString("\nWhere the time went: CPU time per ticket from /proc (for PostgreSQL, the backends serving the server's connections; its WAL writer, checkpointer and other background processes are not counted), " +
		"the mean duration of one engine step (job claimed → committed, from `omflow_step_duration_seconds`), and how busy the machine's CPUs were while filing:\n\n")
	b.WriteString(standalone.CPUTable(rs))
	b.WriteString("\n")
	b.WriteString(aim(rs))
	b.WriteString("\n### Machine\n\n")
	b.WriteString(info.Markdown())
	if o := maxOther(rs); o > 0.15 {
		fmt.Fprintf(&b, "\nThe machine was shared with other work during this run (other processes used up to %.0f %% of all CPU "+
			"during a level; load average up to %.1f on %d CPUs): treat the numbers as a lower bound and rerun on a quiet machine.\n",
			o*100, maxLoad(rs), info.CPUs)
	}
	b.WriteString("\n### Reproduce\n\n")
	b.WriteString("`make bench` builds `./omflow` and runs `go run ./bench/cmd/omflow-bench -binary ./omflow -out docs/BENCHMARKS.md`, " +
		"which rewrites this section only. It needs PostgreSQL on 127.0.0.1:5432 (user postgres, database test; a schema `omb_<random>` is created and dropped). " +
		"Flags: `-engines sqlite,postgres -conc 1,8,32 -duration 10s` (or `-tickets N`), `-workers`, `-v` for SQL rows per ticket; " +
		"`-count-sql` and `-pprof` (with the profiling build `bench/cmd/omflow-prof`) for finding where the time goes; see bench/README.md.\n")
	return b.String()
}

// aim states whether the target (≥1,000 tickets/s on PostgreSQL at
// 32 clients, no request error) was met.
func aim(rs []standalone.Result) string {
	for _, r := range rs {
		if r.Engine == standalone.Postgres && r.Conc == 32 {
			verdict := "met"
			if r.FiledPerSec() < 1000 || r.AdvancedPerSec() < 1000 || r.Errors > 0 {
				verdict = "**not met**"
			}
			return fmt.Sprintf("Aim (≥1,000 tickets/s on PostgreSQL at 32 clients, no request error): %s — %s filed/s, %s advanced/s, %d errors.\n",
				verdict, rate(r.FiledPerSec()), rate(r.AdvancedPerSec()), r.Errors)
		}
	}
	return ""
}

func rate(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }

func maxLoad(rs []standalone.Result) float64 {
	m := 0.0
	for _, r := range rs {
		m = max(m, r.Load1)
	}
	return m
}

func maxOther(rs []standalone.Result) float64 {
	m := 0.0
	for _, r := range rs {
		m = max(m, r.OtherBusy)
	}
	return m
}

// writeSection replaces the standalone section of the file, keeping the
// others and a heading for the booster section.
func writeSection(path, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	doc := string(old)
	if strings.TrimSpace(doc) == "" {
		doc = "# Benchmarks\n\nMeasured numbers of OMFLOW in Go. Each section is written by its own benchmark program; rerun it to refresh the section.\n"
	}
	doc = mdsection.Replace(doc, sectionStandalone, body, sectionBooster)
	doc = mdsection.Ensure(doc, sectionBooster, "_Not measured yet: written by the cluster benchmark (bench/cluster)._")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
