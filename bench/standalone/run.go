package standalone

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omflow/omflow/bench/internal/machine"
	"github.com/omflow/omflow/bench/internal/pgwire"
)

// Engines the benchmark knows.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// AdminUser is the administrator the server creates on first start.
const AdminUser = "admin"

// Options configure one engine's benchmark.
type Options struct {
	Binary string
	Engine string // SQLite or Postgres
	Conc   []int  // clients, one level each
	// Duration is how long each level files tickets; Tickets > 0 files
	// exactly that many per level instead.
	Duration time.Duration
	Tickets  int
	// Warmup files tickets (not counted) before the first level, so the
	// server's caches, connection pool and prepared statements are warm.
	Warmup time.Duration
	PG     PG
	// WorkDir holds the server's data directory and log; a temporary
	// directory when empty (removed afterwards unless KeepDir).
	WorkDir string
	KeepDir bool
	App     []byte // the app export to import
	// Workers sets OMFLOW_WORKERS; 0 keeps the server's default.
	Workers int
	// PGParams are extra PostgreSQL connection parameters for the server
	// (k=v&k=v, e.g. synchronous_commit=off), for experiments.
	PGParams string
	// ServerEnv is extra environment for the server (GODEBUG=...).
	ServerEnv []string
	// PprofAddr, when set, is passed to the server as OMFLOW_BENCH_PPROF:
	// the profiling build (bench/cmd/omflow-prof) serves net/http/pprof
	// there, and a CPU profile of each level is written to ProfileDir.
	PprofAddr  string
	ProfileDir string
	// CountSQL (PostgreSQL) puts a counting wire-protocol proxy between the
	// server and the database to count statements per ticket. It adds a hop
	// to every query, so its rates are not the published ones.
	CountSQL bool
	// TableStats (PostgreSQL) reads pg_stat_user_tables before and after
	// each level for rows inserted, updated and deleted per ticket. The
	// server's idle connections report their counts only every ~10 s, so
	// this waits 11 s after each level.
	TableStats bool
	Log        *slog.Logger
}

// Result is one concurrency level.
type Result struct {
	Engine  string
	Conc    int
	Filed   int64 // tickets filed (201)
	Errors  int64 // requests that failed
	Sample  string
	Elapsed time.Duration // first request to last answer
	// Advanced is first request until every filed ticket had its first
	// task committed.
	Advanced       time.Duration
	P50, P99, Max  time.Duration // request latency of successful requests
	Wait50, Wait99 time.Duration // per ticket: filed → first task committed
	NotAdvanced    int64         // filed tickets with no task or in error
	FailedJobs     int64
	PeakRSS        int64 // bytes, VmHWM during the level (whole life when the reset is not allowed)
	PeakRSSNote    string
	PeakHeap       int64 // bytes, highest go_memstats_heap_inuse_bytes sampled each second
	ServerCPU      time.Duration
	DBCPU          time.Duration // the server's PostgreSQL backends; 0 for SQLite
	ClientCPU      time.Duration // this load generator
	MachineBusy    float64       // share of all CPUs busy during filing (anyone's work)
	OtherBusy      float64       // share of all CPUs used by other work during filing
	Load1          float64       // 1-minute load average at the start
	// Steps and StepTime are the engine's jobs run during the level and
	// their mean duration, claim to commit (omflow_step_duration_seconds).
	// PGConns is the most client connections the PostgreSQL server had
	// open (anyone's) in the once-a-second samples; PGMaxConns its limit.
	PGConns, PGMaxConns int64
	Steps               int64
	StepTime            time.Duration
	SQL                 *SQLCounts // CountSQL only
	Tables              map[string]TableStats
}

// FiledPerSec is tickets filed per second.
func (r Result) FiledPerSec() float64 { return perSec(r.Filed, r.Elapsed) }

// AdvancedPerSec is tickets that reached their first human step per second.
func (r Result) AdvancedPerSec() float64 { return perSec(r.Filed-r.NotAdvanced, r.Advanced) }

func perSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// SQLCounts are the statements the server sent during a level.
type SQLCounts struct {
	Executes, RoundTrips, Parses, Closes int64
	Top, TopPrepared                     []pgwire.StatementCount
}

// EngineRun is the outcome of one engine's benchmark.
type EngineRun struct {
	Engine    string
	PGVersion string
	FlowRef   string
	Results   []Result
}

// Run benchmarks one engine: a fresh database, one server process, then
// each concurrency level in turn.
func Run(ctx context.Context, o Options) (*EngineRun, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if len(o.App) == 0 {
		return nil, errors.New("no app export to import")
	}
	dir := o.WorkDir
	if dir == "" {
		d, err := os.MkdirTemp("", "omflow-bench-")
		if err != nil {
			return nil, fmt.Errorf("work dir: %w", err)
		}
		dir = d
		if !o.KeepDir {
			defer os.RemoveAll(d)
		}
	}
	dir = filepath.Join(dir, o.Engine)
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("clear %s: %w", dir, err)
	}
	password := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	out := &EngineRun{Engine: o.Engine}
	settings := map[string]string{"ADMIN_PASSWORD": password}
	if o.Workers > 0 {
		settings["WORKERS"] = strconv.Itoa(o.Workers)
	}
	var (
		watcher *Watcher
		proxy   *pgwire.Proxy
		schema  *Schema
	)
	switch o.Engine {
	case SQLite:
		settings["DB_ENGINE"] = "sqlite"
	case Postgres:
		s, err := CreateSchema(ctx, o.PG)
		if err != nil {
			return nil, err
		}
		schema = s
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if err := schema.Drop(dctx); err != nil {
				o.Log.Error("drop benchmark schema", "schema", schema.Name, "err", err)
			}
		}()
		out.PGVersion = s.Version(ctx)
		host, port := o.PG.Host, o.PG.Port
		if o.CountSQL {
			p, err := pgwire.Listen(fmt.Sprintf("%s:%d", o.PG.Host, o.PG.Port), o.Log)
			if err != nil {
				return nil, err
			}
			proxy = p
			defer proxy.Close()
			host, port = "127.0.0.1", p.Addr().Port
		}
		settings["DB_ENGINE"] = "postgres"
		settings["DB_HOST"] = host
		settings["DB_PORT"] = strconv.Itoa(port)
		settings["DB_USER"] = o.PG.User
		settings["DB_NAME"] = o.PG.DB
		// application_name lets the watcher find the server's backends
		// and count their CPU time.
		settings["DB_PARAMS"] = "search_path=" + schema.Name + "&application_name=" + schema.Name
		if o.PGParams != "" {
			settings["DB_PARAMS"] += "&" + o.PGParams
		}
		o.Log.Info("PostgreSQL schema created", "schema", schema.Name, "version", out.PGVersion)
	default:
		return nil, fmt.Errorf("engine %q: want %s or %s", o.Engine, SQLite, Postgres)
	}
	env := append([]string(nil), o.ServerEnv...)
	if o.PprofAddr != "" {
		env = append(env, "OMFLOW_BENCH_PPROF="+o.PprofAddr)
	}
	srv, err := StartServer(ctx, ServerOptions{Binary: o.Binary, Dir: dir, Settings: settings, Env: env})
	if err != nil {
		return nil, err
	}
	o.Log.Info("server started", "engine", o.Engine, "url", srv.URL, "pid", srv.Pid(), "log", srv.LogPath)
	stopped := false
	defer func() {
		if !stopped {
			_ = srv.Stop(30 * time.Second)
		}
	}()
	switch o.Engine {
	case SQLite:
		watcher, err = WatchSQLite(filepath.Join(dir, "data", "omflow.db"))
	case Postgres:
		watcher, err = WatchPostgres(o.PG, schema.Name)
	}
	if err != nil {
		return nil, err
	}
	defer watcher.Close()

	admin := NewClient(srv.URL, 2)
	defer admin.Close()
	if err := admin.Login(ctx, AdminUser, password); err != nil {
		return nil, err
	}
	flows, err := admin.ImportApp(ctx, o.App)
	if err != nil {
		return nil, err
	}
	if len(flows) == 0 {
		return nil, errors.New("import app: the answer lists no flow")
	}
	out.FlowRef = flows[0].APIPath
	if out.FlowRef == "" {
		out.FlowRef = strconv.FormatInt(flows[0].ID, 10)
	}
	r := &runner{o: o, srv: srv, admin: admin, w: watcher, proxy: proxy, flow: out.FlowRef}
	if schema != nil {
		r.schema = schema.Name
	}
	if o.Warmup > 0 {
		o.Log.Info("warming up", "for", o.Warmup)
		if _, err := r.level(ctx, 4, o.Warmup, 0, "warmup"); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	for _, c := range o.Conc {
		res, err := r.level(ctx, c, o.Duration, o.Tickets, fmt.Sprintf("%s-c%d", o.Engine, c))
		if err != nil {
			return out, fmt.Errorf("%s, %d clients: %w", o.Engine, c, err)
		}
		o.Log.Info("level done", "engine", o.Engine, "clients", c, "filed", res.Filed,
			"filed_per_s", fmt.Sprintf("%.0f", res.FiledPerSec()), "advanced_per_s", fmt.Sprintf("%.0f", res.AdvancedPerSec()),
			"p50", res.P50, "p99", res.P99, "errors", res.Errors, "steps", res.Steps, "step_mean", res.StepTime)
		out.Results = append(out.Results, res)
	}
	if o.PprofAddr != "" && o.ProfileDir != "" {
		if err := fetchProfile(ctx, o.PprofAddr, "allocs", "", filepath.Join(o.ProfileDir, o.Engine+"-allocs.pprof")); err != nil {
			o.Log.Warn("allocation profile", "err", err)
		}
	}
	stopped = true
	if err := srv.Stop(30 * time.Second); err != nil {
		return out, err
	}
	return out, nil
}

type runner struct {
	o      Options
	srv    *Server
	admin  *Client
	w      *Watcher
	proxy  *pgwire.Proxy
	flow   string
	schema string
}

// level files tickets with conc clients for d (or exactly n tickets when
// n > 0), then waits until each has reached its first task.
func (r *runner) level(ctx context.Context, conc int, d time.Duration, n int, name string) (Result, error) {
	res := Result{Engine: r.o.Engine, Conc: conc, Load1: machine.Load1()}
	before, err := r.w.MaxTicketID(ctx)
	if err != nil {
		return res, err
	}
	var tables0 map[string]TableStats
	if r.schema != "" && r.o.TableStats {
		tables0, _ = r.w.TableStats(ctx, r.schema)
	}
	if err := r.srv.ResetPeakRSS(); err != nil {
		res.PeakRSSNote = "peak over the server's life (could not reset VmHWM)"
	}
	if r.proxy != nil {
		r.proxy.Reset()
	}
	steps0, stepSum0 := r.steps(ctx)
	srvCPU0, _ := r.srv.CPUTime()
	dbCPU0 := r.backendCPU(ctx)
	selfCPU0 := SelfCPU()
	busy0, total0 := MachineCPU()

	// Memory sampler: the Go heap from /metrics once a second.
	var peakHeap, peakConns, maxConns atomic.Int64
	sampleCtx, stopSampling := context.WithCancel(ctx)
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if m, err := r.admin.Metrics(sampleCtx); err == nil {
				if h := int64(m["go_memstats_heap_inuse_bytes"]); h > peakHeap.Load() {
					peakHeap.Store(h)
				}
			}
			if n, limit, err := r.w.Connections(sampleCtx); err == nil && limit > 0 {
				maxConns.Store(limit)
				if n > peakConns.Load() {
					peakConns.Store(n)
				}
			}
			select {
			case <-sampleCtx.Done():
				return
			case <-t.C:
			}
		}
	}()
	defer func() { stopSampling(); sampler.Wait() }()

	var profile sync.WaitGroup
	if r.o.PprofAddr != "" && r.o.ProfileDir != "" && name != "warmup" {
		secs := max(1, int(d.Seconds()))
		profile.Add(1)
		go func() {
			defer profile.Done()
			path := filepath.Join(r.o.ProfileDir, name+".cpu.pprof")
			if err := fetchProfile(ctx, r.o.PprofAddr, "profile", "seconds="+strconv.Itoa(secs), path); err != nil {
				r.o.Log.Warn("CPU profile", "level", name, "err", err)
			}
		}()
	}

	c := r.admin.WithConns(conc)
	defer c.Close()
	var (
		next     atomic.Int64
		filed    atomic.Int64
		failed   atomic.Int64
		sampleMu sync.Mutex
		wg       sync.WaitGroup
	)
	lats := make([][]time.Duration, conc)
	start := time.Now()
	deadline := start.Add(d)
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			mine := make([]time.Duration, 0, 4096)
			body := make([]byte, 0, 128)
			for k := 0; ctx.Err() == nil; k++ {
				if n > 0 {
					if next.Add(1) > int64(n) {
						break
					}
				} else if !time.Now().Before(deadline) {
					break
				}
				body = fmt.Appendf(body[:0], `{"fields":{"FORMITM_1":"bench %s w%d #%d","FORMITM_2":"filed by omflow-bench"}}`, name, i, k)
				t0 := time.Now()
				err := c.FileTicket(ctx, r.flow, body)
				el := time.Since(t0)
				if err != nil {
					if failed.Add(1) == 1 {
						sampleMu.Lock()
						res.Sample = err.Error()
						sampleMu.Unlock()
					}
					continue
				}
				filed.Add(1)
				mine = append(mine, el)
			}
			lats[i] = mine
		}(i)
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	busy1, total1 := MachineCPU()
	if total1 > total0 {
		srvCPU, _ := r.srv.CPUTime()
		ours := (srvCPU - srvCPU0) + cpuSince(dbCPU0, r.backendCPU(ctx)) + (SelfCPU() - selfCPU0)
		res.MachineBusy = float64(busy1-busy0) / float64(total1-total0)
		res.OtherBusy = max(0, float64(busy1-busy0-ours)/float64(total1-total0))
	}
	res.Filed, res.Errors = filed.Load(), failed.Load()
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	all = Sorted(all)
	res.P50, res.P99 = Percentile(all, 0.50), Percentile(all, 0.99)
	if len(all) > 0 {
		res.Max = all[len(all)-1]
	}

	// Wait for the engine: no job left to run.
	limit := time.Now().Add(5*time.Minute + d)
	var firstErr time.Time
	for {
		pending, failedJobs, err := r.w.Pending(ctx)
		if err != nil {
			// A shared database may refuse a connection for a while (too
			// many clients): retry before giving up.
			if firstErr.IsZero() {
				firstErr = time.Now()
			}
			if time.Since(firstErr) > time.Minute || ctx.Err() != nil {
				return res, err
			}
			r.o.Log.Warn("watching the jobs table", "err", err)
			time.Sleep(500 * time.Millisecond)
			continue
		}
		firstErr = time.Time{}
		if pending == 0 {
			res.Advanced = time.Since(start)
			res.FailedJobs = failedJobs
			break
		}
		if time.Now().After(limit) {
			return res, fmt.Errorf("%d jobs still pending %s after filing ended", pending, time.Since(start)-res.Elapsed)
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	stopSampling()
	sampler.Wait()
	profile.Wait()
	if m, err := r.admin.Metrics(ctx); err == nil {
		if h := int64(m["go_memstats_heap_inuse_bytes"]); h > peakHeap.Load() {
			peakHeap.Store(h)
		}
	}
	res.PeakHeap = peakHeap.Load()
	res.PGConns, res.PGMaxConns = peakConns.Load(), maxConns.Load()
	if steps1, stepSum1 := r.steps(ctx); steps1 > steps0 {
		res.Steps = steps1 - steps0
		res.StepTime = time.Duration((stepSum1 - stepSum0) / float64(res.Steps) * float64(time.Second))
	}
	if v, err := r.srv.ProcStatus("VmHWM"); err == nil {
		res.PeakRSS = v
	}
	srvCPU1, _ := r.srv.CPUTime()
	res.ServerCPU = srvCPU1 - srvCPU0
	if r.o.Engine == Postgres {
		res.DBCPU = cpuSince(dbCPU0, r.backendCPU(ctx))
	}
	res.ClientCPU = SelfCPU() - selfCPU0
	if r.proxy != nil {
		s := r.proxy.Snapshot()
		res.SQL = &SQLCounts{Executes: s.Executes, RoundTrips: s.Syncs, Parses: s.Parses, Closes: s.Closes,
			Top: s.Top(25), TopPrepared: s.TopPrepared(15)}
	}

	adv, err := r.w.Advanced(ctx, before)
	if err != nil {
		return res, err
	}
	res.NotAdvanced = adv.NoTask + adv.Errored
	ws := Sorted(adv.Waiting)
	res.Wait50, res.Wait99 = Percentile(ws, 0.50), Percentile(ws, 0.99)
	if adv.Tickets != res.Filed {
		return res, fmt.Errorf("%d tickets answered 201 but the database holds %d new tickets", res.Filed, adv.Tickets)
	}
	if r.schema != "" && r.o.TableStats {
		// Backends flush their table counters when they go idle, at most
		// every 10 s (PGSTAT_IDLE_INTERVAL).
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(11 * time.Second):
		}
		if tables1, err := r.w.TableStats(ctx, r.schema); err == nil {
			res.Tables = diffTables(tables0, tables1)
		}
	}
	return res, nil
}

// steps reads how many engine steps ran so far and their total seconds.
func (r *runner) steps(ctx context.Context) (int64, float64) {
	m, err := r.admin.Metrics(ctx)
	if err != nil {
		return 0, 0
	}
	var n, sum float64
	for k, v := range m {
		switch {
		case strings.HasPrefix(k, "omflow_step_duration_seconds_count"):
			n += v
		case strings.HasPrefix(k, "omflow_step_duration_seconds_sum"):
			sum += v
		}
	}
	return int64(n), sum
}

// backendCPU reads the CPU time of each PostgreSQL backend serving the
// server (found by application_name), by process id.
func (r *runner) backendCPU(ctx context.Context) map[int]time.Duration {
	if r.schema == "" {
		return nil
	}
	pids, err := r.w.BackendPIDs(ctx, r.schema)
	if err != nil {
		return nil
	}
	out := make(map[int]time.Duration, len(pids))
	for _, pid := range pids {
		if d, err := ProcessCPU(pid); err == nil {
			out[pid] = d
		}
	}
	return out
}

// cpuSince adds up what each backend used between two readings; one that
// appeared in between counts from zero. Backends that closed in between
// are lost (the server keeps its connections open, so there are few).
func cpuSince(before, after map[int]time.Duration) time.Duration {
	var sum time.Duration
	for pid, d := range after {
		sum += max(0, d-before[pid])
	}
	return sum
}

func diffTables(a, b map[string]TableStats) map[string]TableStats {
	out := map[string]TableStats{}
	for k, v := range b {
		o := a[k]
		d := TableStats{Table: k, SeqScan: v.SeqScan - o.SeqScan, IdxScan: v.IdxScan - o.IdxScan,
			Inserted: v.Inserted - o.Inserted, Updated: v.Updated - o.Updated, HotUpdated: v.HotUpdated - o.HotUpdated,
			Deleted: v.Deleted - o.Deleted}
		if d != (TableStats{Table: k}) {
			out[k] = d
		}
	}
	return out
}

// fetchProfile saves a pprof profile from the profiling build.
func fetchProfile(ctx context.Context, addr, kind, query, path string) error {
	u := "http://" + addr + "/debug/pprof/" + kind
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w (is the binary the profiling build bench/cmd/omflow-prof?)", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: status %d", u, resp.StatusCode)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("save %s: %w", path, err)
	}
	return f.Close()
}
