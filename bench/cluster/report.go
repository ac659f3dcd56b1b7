package main

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/omflow/omflow/bench/internal/machine"
)

type report struct {
	Info        machine.Info
	Runs, Jobs  int
	Workers     int
	Trickle     float64
	Failover    failoverResult
	FailoverErr error
	Dispatch    []dispatchResult
}

// percentile is the nearest-rank percentile p (0–100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

func (r report) Markdown() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("Measured by `go run ./bench/cluster -out docs/BENCHMARKS.md` with real omflow processes (two boosters, three servers with WORKERS=%d) on 127.0.0.x and one PostgreSQL.\n\n", r.Workers)
	w("%s\n", strings.TrimRight(r.Info.Markdown(), "\n"))
	if f := strings.Fields(r.Info.LoadAvg); len(f) > 0 && parseLoad(f[0]) > 2 {
		w("- The load average was above the machine's 2 cores when the run started: other work shared the machine, so the numbers are pessimistic; rerun on a quiet machine.\n\n")
	} else {
		w("\n")
	}

	w("### Failover\n\n")
	if r.FailoverErr != nil {
		w("Not measured: %s\n\n", oneLine(r.FailoverErr.Error()))
	}
	fo := r.Failover
	if r.FailoverErr == nil && len(fo.Crash)+len(fo.Clean) == 0 {
		w("Not run in this invocation.\n\n")
	}
	if len(fo.Crash)+len(fo.Clean) > 0 {
		w("Time from the signal to the active booster until the standby logs `became active booster` (elected) and `booster: first dispatch of this term` (first job dispatched by the new active), read from the millisecond timestamps of the new active's log. A trickle of %.0f tickets/s is filed through the servers throughout, so there is always a job to dispatch. p99 of %d runs is the slowest run (nearest rank).\n\n", r.Trickle, r.Runs)
		w("| handover | runs | elected p50 | elected p99 | first dispatch p50 | first dispatch p99 | first dispatch max | aim |\n")
		w("|---|---:|---:|---:|---:|---:|---:|---|\n")
		row := func(name string, runs []failoverRun, aim string) {
			var el, di []time.Duration
			for _, x := range runs {
				el, di = append(el, x.Elected), append(di, x.Dispatched)
			}
			w("| %s | %d | %s | %s | %s | %s | %s | %s |\n", name, len(runs), ms(percentile(el, 50)), ms(percentile(el, 99)),
				ms(percentile(di, 50)), ms(percentile(di, 99)), ms(percentile(di, 100)), aim)
		}
		row("crash: SIGKILL of the active", fo.Crash, "p99 ≤ 2 s")
		row("clean: SIGTERM of the active", fo.Clean, "≤ 300 ms")
		w("\n")
		w("Aims: crash p99 ≤ 2 s **%s**; clean handover ≤ 300 ms (p99) **%s**.\n\n",
			metOr(percentile(dispatchTimes(fo.Crash), 99) <= 2*time.Second), metOr(percentile(dispatchTimes(fo.Clean), 99) <= 300*time.Millisecond))
		w("Background tickets filed during the runs: %d; all closed with every step exactly once: %s. Requests failed on a live server: %d; lost with a stopped server and filed again elsewhere: %d. Runs left out because another handover happened meanwhile: %d.\n\n",
			fo.Tickets, yesNo(len(fo.Problems) == 0, fo.Problems), fo.Failures, fo.ServerLoss, fo.Disturbed)
	}

	w("### Dispatch\n\n")
	w("%d tickets of a flow with five automatic steps and one job each (start → setform → python → setform → end) filed through the three servers (4 requests in flight on each) until all are closed; River inserts the same number of trivial jobs one at a time from 12 goroutines into the same PostgreSQL while one client with %d workers works them, each job recording itself in the transaction that completes it. Lost and duplicated steps are counted from the audit (River: from the recorded job numbers). Booster CPU is the active booster's user+system time from /proc/<pid>/stat over the run (10 ms ticks), and the same less what it spends per second with no jobs (measured for 5 s before the run).\n\n", r.Jobs, 3*r.Workers)
	w("| mode | jobs | steps | all filed after (s) | all done after (s) | jobs/s | steps/s | lost | duplicated | failed requests | booster CPU per 1,000 jobs |\n")
	w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, d := range r.Dispatch {
		if d.Err != nil {
			w("| %s | not measured: %s | | | | | | | | | |\n", d.Mode, oneLine(d.Err.Error()))
			continue
		}
		cpu := "—"
		if d.BoosterCPU > 0 || d.Dispatched > 0 {
			net := d.BoosterCPU - time.Duration(float64(d.IdleCPUPerSec)*d.Seconds)
			per := func(x time.Duration) string { return ms(time.Duration(float64(x) * 1000 / float64(max(d.Jobs, 1)))) }
			cpu = fmt.Sprintf("%s; %s above idle (%.0f dispatched, idle %s/s)", per(d.BoosterCPU), per(max(net, 0)), d.Dispatched, ms(d.IdleCPUPerSec))
		}
		filed := "—"
		if d.Filed > 0 {
			filed = fmt.Sprintf("%.1f", d.Filed)
		}
		w("| %s | %d | %d | %s | %.1f | %.0f | %.0f | %d | %d | %d | %s |\n", d.Mode, d.Jobs, d.Steps, filed, d.Seconds,
			float64(d.Jobs)/d.Seconds, float64(d.Steps)/d.Seconds, d.Lost, d.Duplicated, d.Failures, cpu)
	}
	var omflow, river *dispatchResult
	for i := range r.Dispatch {
		d := &r.Dispatch[i]
		switch {
		case d.Err != nil:
		case d.BoosterCPU > 0 || d.Dispatched > 0:
			omflow = d
		case strings.HasPrefix(d.Mode, "River"):
			river = d
		}
	}
	if omflow != nil && river != nil {
		ok := float64(omflow.Jobs)/omflow.Seconds >= float64(river.Jobs)/river.Seconds && omflow.Lost+omflow.Duplicated == 0
		w("\nAim: at least River's throughput with zero lost and zero duplicated steps: **%s** (%.0f jobs/s and %.0f steps/s through the booster, River %.0f jobs/s). An omflow job here is more work than River's: each is a ticket filed over HTTP (authentication, form validation, the ticket, its audit entry and its job in one transaction) and then five flow steps run and committed with their audit entries; River's job is one insert and one trivial transaction.\n",
			metOr(ok), float64(omflow.Jobs)/omflow.Seconds, float64(omflow.Steps)/omflow.Seconds, float64(river.Jobs)/river.Seconds)
	}
	for _, d := range r.Dispatch {
		if len(d.Problems) > 0 {
			w("\nProblems found in %s:\n\n", d.Mode)
			for _, p := range d.Problems {
				w("- %s\n", p)
			}
		}
	}
	w("\n### Reproduce\n\n")
	w("`go run ./bench/cluster -out docs/BENCHMARKS.md` (builds omflow from the checkout, or `-binary ./omflow`) rewrites this section only. It needs PostgreSQL on 127.0.0.1:5432 (user postgres, database test; schemas `omcb_<random>` and `river_bench_<random>` are created and dropped) with room for about 100 connections, and the Go module proxy or a module cache for the River module in bench/river (its own go.mod, so the product never depends on River). Flags: `-runs 20` handovers of each kind, `-jobs 3000` per dispatch mode, `-trickle 40` tickets/s during the handovers, `-only failover|dispatch`, `-river \"\"` to leave River out, `-workdir DIR -keep` to keep the node logs.\n")
	return b.String()
}

func dispatchTimes(runs []failoverRun) []time.Duration {
	var out []time.Duration
	for _, r := range runs {
		out = append(out, r.Dispatched)
	}
	return out
}

func metOr(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

func yesNo(ok bool, problems []string) string {
	if ok {
		return "yes"
	}
	return fmt.Sprintf("NO (%d problems, first: %s)", len(problems), problems[0])
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// parseLoad reads a load average figure (0 when unreadable).
func parseLoad(s string) float64 {
	v, _ := strconv.ParseFloat(s, 64)
	return v
}
