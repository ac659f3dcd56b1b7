package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/omflow/omflow/clustertest"
)

// The flow of the benchmark (testdata/steps.json): start → 受付 (setform)
// → 計算 (python) → 完了 (setform) → 終了 (end), one job per ticket, no
// person involved.
const stepsFlow = "steps"

var stepsExpect = clustertest.Expect{
	Path: func(int) []string { return []string{"FITEM_1", "FITEM_2", "FITEM_3", "FITEM_4", "FITEM_5"} },
	Fields: func(ref string, n int) map[string]string {
		parity := "even"
		if n%2 == 1 {
			parity = "odd"
		}
		return map[string]string{clustertest.FieldRef: ref, clustertest.FieldN: strconv.Itoa(n), clustertest.FieldState: "done",
			clustertest.FieldTwice: strconv.Itoa(2 * n), clustertest.FieldParity: parity}
	},
}

const stepsPerTicket = 5

// dispatchedMetric counts the jobs a booster dispatched.
const dispatchedMetric = "omflow_booster_jobs_dispatched_total"

// failoverRun is one measured handover.
type failoverRun struct {
	From, To   string
	Epoch      int64
	Elected    time.Duration // signal to the new active's "became active booster" log line
	Dispatched time.Duration // signal to the new active's "booster: first dispatch of this term"
}

type failoverResult struct {
	Crash, Clean []failoverRun
	// Disturbed counts runs left out because the handover was not the one
	// measured (another booster won, or the epoch moved by more than one).
	Disturbed int
	// The background tickets filed during all runs, all verified.
	Tickets, ServerLoss, Failures int
	Problems                      []string
}

// failover starts two boosters and three servers with a trickle of
// tickets and measures f.runs crash handovers (SIGKILL of the active) and
// f.runs clean ones (SIGTERM).
func failover(ctx context.Context, f flags, bin string, log *slog.Logger) (failoverResult, error) {
	var res failoverResult
	err := part(log, f.keep, func(tb *benchTB) error {
		c := clustertest.New(tb, clustertest.Options{Binary: bin, DB: schema(tb, f.pg), Workers: f.workers, Dir: subdir(f.workDir, "failover")})
		c.Start()
		c.Login()
		c.ImportApp(appFile("steps.json"), stepsFlow)
		c.WaitStable(60 * time.Second)
		load := c.StartLoad(ctx, clustertest.LoadOptions{Flow: stepsFlow, Prefix: "f", Tickets: 1 << 30, Rate: f.trickle})
		defer load.Stop()
		for _, kind := range []string{"crash", "clean"} {
			for i := 0; i < f.runs && ctx.Err() == nil; i++ {
				r, ok, err := handover(ctx, c, kind == "crash")
				if err != nil {
					return fmt.Errorf("%s run %d: %w", kind, i+1, err)
				}
				if !ok {
					res.Disturbed++
					i-- // measure another one instead
					if res.Disturbed > f.runs {
						return fmt.Errorf("too many disturbed runs (%d)", res.Disturbed)
					}
					continue
				}
				log.Info("handover", "kind", kind, "run", i+1, "from", r.From, "to", r.To, "epoch", r.Epoch,
					"elected", r.Elected.Round(time.Millisecond), "first_dispatch", r.Dispatched.Round(time.Millisecond))
				if kind == "crash" {
					res.Crash = append(res.Crash, r)
				} else {
					res.Clean = append(res.Clean, r)
				}
			}
		}
		load.Stop()
		lr := load.Wait()
		c.WaitClosed(lr, 2*time.Minute)
		res.Tickets, res.ServerLoss, res.Failures = len(lr.IDs()), lr.ServerLoss, len(lr.Failures)
		res.Problems = c.Verify(lr, stepsExpect)
		res.Problems = append(res.Problems, c.JobProblems(lr)...)
		for _, fl := range lr.Failures {
			log.Warn("request failed during the failover runs", "failure", fl)
		}
		return ctx.Err()
	})
	return res, err
}

// logFirstDispatch is the line a new active booster writes when it sends
// its first job of the term.
const logFirstDispatch = "booster: first dispatch of this term"

var (
	epochRE = regexp.MustCompile(`epoch=(\d+)`)
	timeRE  = regexp.MustCompile(`time=(\S+)`)
)

func logEpoch(line string) int64 {
	if m := epochRE.FindStringSubmatch(line); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		return n
	}
	return 0
}

// logTime reads the time= of a log line (slog text format, milliseconds).
func logTime(line string) time.Time {
	if m := timeRE.FindStringSubmatch(line); m != nil {
		if ts, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
			return ts
		}
	}
	return time.Time{}
}

// handover takes the active booster down (SIGKILL when crash, else
// SIGTERM), measures the standby's takeover and restarts the old active.
// ok is false when something else happened meanwhile (the run is left
// out).
func handover(ctx context.Context, c *clustertest.Cluster, crash bool) (failoverRun, bool, error) {
	c.WaitStable(60 * time.Second)
	active, epoch0 := c.WaitActiveBooster(10 * time.Second)
	standby := c.Boosters[0]
	if standby == active {
		standby = c.Boosters[1]
	}
	mark := standby.LogSize()
	t0 := time.Now()
	if crash {
		active.Kill()
	} else {
		active.Stop(30 * time.Second)
	}
	r := failoverRun{From: active.Name, To: standby.Name}
	// The new active logs its election and its first dispatch of the
	// term; both lines carry the epoch and a millisecond timestamp.
	var first string
	deadline := time.Now().Add(20 * time.Second)
	for first == "" {
		if l := standby.LogLines(mark, logFirstDispatch); len(l) > 0 {
			first = l[0]
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return r, false, fmt.Errorf("%s logged no %q within 20 s of the %s of %s:\n%s", standby.Name, logFirstDispatch, kindOf(crash), active.Name, standby.Tail(20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	lines := standby.LogLines(mark, "became active booster")
	if len(lines) == 0 {
		return r, false, fmt.Errorf("%s dispatched but logged no \"became active booster\"", standby.Name)
	}
	r.Epoch = logEpoch(lines[0])
	r.Elected = logTime(lines[0]).Sub(t0)
	r.Dispatched = logTime(first).Sub(t0)
	if logEpoch(first) != r.Epoch {
		return r, false, nil
	}
	ok := r.Epoch == epoch0+1 && len(lines) == 1
	active.Start()
	active.WaitHealthy(60 * time.Second)
	c.WaitStable(60 * time.Second)
	time.Sleep(300 * time.Millisecond)
	return r, ok, nil
}

func kindOf(crash bool) string {
	if crash {
		return "SIGKILL"
	}
	return "SIGTERM"
}

// counter reads one counter (summed over its label sets) from the
// Prometheus text on a node's HTTP port; an absent metric reads 0.
func counter(ctx context.Context, n *clustertest.Node, name string) (float64, error) {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, http.MethodGet, n.URL()+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue // another metric with this prefix
		}
		fields := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q: %w", line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}
