package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/omflow/omflow/clustertest"
)

// dispatchResult is one row of the dispatch table.
type dispatchResult struct {
	Mode       string
	Jobs       int // jobs run (one per ticket; River: jobs worked)
	Steps      int // flow steps recorded in the audit (River: jobs)
	Seconds    float64
	Filed      float64 // seconds until the last ticket was filed (River: inserted)
	Lost       int     // steps expected but not recorded (River: jobs never worked)
	Duplicated int     // steps recorded more than once (River: jobs worked twice)
	// Booster mode: CPU time of the active booster during the run and the
	// jobs it dispatched (a job may be dispatched again when a server
	// refuses it).
	BoosterCPU    time.Duration
	IdleCPUPerSec time.Duration // the active booster's CPU per second with no jobs
	Dispatched    float64
	Failures      int // HTTP requests that failed
	Problems      []string
	Err           error
}

func dispatch(ctx context.Context, f flags, bin string, log *slog.Logger) []dispatchResult {
	var out []dispatchResult

	r := dispatchResult{Mode: "through the booster (2 boosters, 3 servers)"}
	r.Err = part(log, f.keep, func(tb *benchTB) error {
		c := clustertest.New(tb, clustertest.Options{Binary: bin, DB: schema(tb, f.pg), Workers: f.workers, Dir: subdir(f.workDir, "dispatch-booster")})
		c.Start()
		c.Login()
		c.ImportApp(appFile("steps.json"), stepsFlow)
		c.WaitStable(60 * time.Second)
		active, _ := c.WaitActiveBooster(10 * time.Second)
		pid := active.PID()
		// The booster's own upkeep (gossip, lease renewals, heartbeats)
		// costs CPU with no jobs at all: measure it first, to subtract.
		idle0, err := procCPU(pid)
		if err != nil {
			return err
		}
		const idleFor = 5 * time.Second
		time.Sleep(idleFor)
		cpu0, err := procCPU(pid)
		if err != nil {
			return err
		}
		r.IdleCPUPerSec = (cpu0 - idle0) * time.Second / idleFor
		d0, err := counter(ctx, active, dispatchedMetric)
		if err != nil {
			return err
		}
		if err := runDispatch(ctx, c, f.jobs, &r); err != nil {
			return err
		}
		if active.PID() != pid {
			return fmt.Errorf("the active booster %s restarted during the run", active.Name)
		}
		if now, _ := c.WaitActiveBooster(10 * time.Second); now != active {
			return fmt.Errorf("the active booster changed during the run (%s → %s)", active.Name, now.Name)
		}
		cpu1, err := procCPU(pid)
		if err != nil {
			return err
		}
		d1, err := counter(ctx, active, dispatchedMetric)
		if err != nil {
			return err
		}
		r.BoosterCPU, r.Dispatched = cpu1-cpu0, d1-d0
		return nil
	})
	log.Info("dispatch", "mode", r.Mode, "jobs", r.Jobs, "seconds", r.Seconds, "err", r.Err)
	out = append(out, r)

	r = dispatchResult{Mode: "servers alone, claiming from the database (degraded mode)"}
	r.Err = part(log, f.keep, func(tb *benchTB) error {
		// The boosters are configured (cluster mode) but never started.
		c := clustertest.New(tb, clustertest.Options{Binary: bin, DB: schema(tb, f.pg), Workers: f.workers, Dir: subdir(f.workDir, "dispatch-degraded")})
		c.StartServers()
		c.Login()
		c.ImportApp(appFile("steps.json"), stepsFlow)
		return runDispatch(ctx, c, f.jobs, &r)
	})
	log.Info("dispatch", "mode", r.Mode, "jobs", r.Jobs, "seconds", r.Seconds, "err", r.Err)
	out = append(out, r)

	if f.riverDir != "" {
		r = river(ctx, f, log)
		log.Info("dispatch", "mode", r.Mode, "jobs", r.Jobs, "seconds", r.Seconds, "err", r.Err)
		out = append(out, r)
	}
	return out
}

// runDispatch files n tickets of the steps flow through all three servers
// (4 requests in flight each) and waits until all are closed; the time is
// from the first request to the last ticket closed.
func runDispatch(ctx context.Context, c *clustertest.Cluster, n int, r *dispatchResult) error {
	start := time.Now()
	l := c.StartLoad(ctx, clustertest.LoadOptions{Flow: stepsFlow, Prefix: "d", Tickets: n})
	lr := l.Wait()
	c.WaitClosed(lr, 10*time.Minute)
	r.Seconds = time.Since(start).Seconds()
	r.Filed = lr.Duration.Seconds()
	ids := lr.IDs()
	r.Jobs = len(ids)
	r.Failures = len(lr.Failures) + len(lr.Unfiled)
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	distinct, dup, err := c.StepAudit(actx, ids[0], ids[len(ids)-1])
	if err != nil {
		return err
	}
	r.Steps = distinct + dup
	r.Lost = max(0, stepsPerTicket*len(ids)-distinct)
	r.Duplicated = dup
	r.Problems = append(c.Verify(lr, stepsExpect), c.JobProblems(lr)...)
	return nil
}

// river runs bench/river (its own module) on the same PostgreSQL with as
// many jobs as one omflow mode runs, and as many workers as the three
// servers have together.
func river(ctx context.Context, f flags, log *slog.Logger) dispatchResult {
	r := dispatchResult{Mode: "River"}
	dir, err := filepath.Abs(f.riverDir)
	if err != nil {
		r.Err = err
		return r
	}
	cmd := exec.CommandContext(ctx, "go", "run", ".",
		"-dsn", pgDSN(f.pg), "-jobs", strconv.Itoa(f.jobs), "-workers", strconv.Itoa(3*f.workers), "-inserters", "12")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	log.Info("running River", "dir", dir)
	if err := cmd.Run(); err != nil {
		r.Err = fmt.Errorf("go run %s: %w\n%s", dir, err, strings.TrimSpace(stderr.String()))
		return r
	}
	var res struct {
		River      string  `json:"river"`
		Jobs       int     `json:"jobs"`
		Seconds    float64 `json:"seconds"`
		Inserted   float64 `json:"inserted"`
		Lost       int     `json:"lost"`
		Duplicated int     `json:"duplicated"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		r.Err = fmt.Errorf("River's output %q: %w", stdout.String(), err)
		return r
	}
	r.Mode = "River " + res.River + " (riverpgxv5), one client, same PostgreSQL"
	r.Jobs, r.Steps, r.Seconds, r.Lost, r.Duplicated = res.Jobs-res.Lost, res.Jobs-res.Lost+res.Duplicated, res.Seconds, res.Lost, res.Duplicated
	r.Filed = res.Inserted
	return r
}

// procCPU returns the user+system CPU time of a process from
// /proc/<pid>/stat (clock ticks of 10 ms).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("booster CPU time: %w", err)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("booster CPU time: unreadable /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+1:])
	// After the command: state is field 3, utime 14, stime 15 (1-based).
	if len(fields) < 13 {
		return 0, fmt.Errorf("booster CPU time: short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(fields[11], 10, 64)
	st, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("booster CPU time: unreadable /proc/%d/stat", pid)
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(ut+st) * tick, nil
}

// subdir is dir/name, or "" (a temporary directory) when dir is empty.
func subdir(dir, name string) string {
	if dir == "" {
		return ""
	}
	p := filepath.Join(dir, name)
	_ = os.MkdirAll(p, 0o755)
	return p
}
