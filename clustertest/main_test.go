package clustertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

// The omflow binary, built once for the whole test run.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "omflow-bin-*")
		if buildErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		binPath, buildErr = BuildBinary(ctx, buildDir)
	})
	if buildErr != nil {
		t.Fatalf("build omflow: %v", buildErr)
	}
	return binPath
}

// needEngine skips, saying why, when the run does not cover engine e
// (OMFLOW_TEST_DBS, as for every database test of the project).
func needEngine(t *testing.T, e store.Engine) {
	t.Helper()
	if !slices.Contains(storetest.Engines(), e) {
		t.Skipf("OMFLOW_TEST_DBS=%q does not include %s", os.Getenv("OMFLOW_TEST_DBS"), e)
	}
}

// ticketsPerScenario is 2,000 (the number); OMFLOW_CLUSTERTEST_TICKETS
// changes it, and -short uses 300.
func ticketsPerScenario() int {
	if v, err := strconv.Atoi(os.Getenv("OMFLOW_CLUSTERTEST_TICKETS")); err == nil && v > 0 {
		return v
	}
	if testing.Short() {
		return 300
	}
	return 2000
}

// relayApp is the app export of the relay flow.
func relayApp() string { return filepath.Join("testdata", "relay.json") }

// startCluster starts boosters and servers on a fresh database of engine e,
// logs the administrator in and imports the relay flow.
func startCluster(t *testing.T, e store.Engine, o Options) *Cluster {
	t.Helper()
	o.Binary = binary(t)
	o.DB = storetest.Options(t, e)
	c := New(t, o)
	c.Start()
	c.Login()
	c.ImportApp(relayApp(), RelayFlow)
	return c
}

// scenario files n relay tickets through every server while fault runs,
// then checks the outcome: every ticket closed with the fields the flow
// computes, each step exactly once in the audit, no job left or leased,
// and no request failed except those sent to a server the test took down
// (which were filed again elsewhere and are counted separately).
func scenario(t *testing.T, c *Cluster, prefix string, n int, rate float64, fault func(l *Load)) LoadResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	l := c.StartLoad(ctx, LoadOptions{Prefix: prefix, Tickets: n, Rate: rate})
	fault(l)
	res := l.Wait()
	filed := time.Since(start)
	c.WaitClosed(res, 90*time.Second)
	t.Logf("%s: %d tickets filed in %s (%.0f/s), all closed %s after the start; per server %v; requests lost with a downed server and filed again elsewhere: %d",
		prefix, len(res.IDs()), filed.Round(time.Millisecond), float64(len(res.IDs()))/filed.Seconds(),
		time.Since(start).Round(time.Millisecond), res.PerNode, res.ServerLoss)
	if len(res.Failures) > 0 {
		t.Errorf("%d requests failed though their server was up (a booster must never fail a request):\n  %s",
			len(res.Failures), joinMax(res.Failures, 20))
	}
	vstart := time.Now()
	if p := c.VerifyRelay(res); len(p) > 0 {
		t.Errorf("tickets not in their expected state:\n  %s", joinMax(p, 30))
	}
	if p := c.JobProblems(res); len(p) > 0 {
		t.Errorf("jobs:\n  %s", joinMax(p, 30))
	}
	t.Logf("%s: tickets, audit and jobs checked in %s", prefix, time.Since(vstart).Round(time.Millisecond))
	return res
}

func joinMax(ss []string, n int) string {
	if len(ss) > n {
		ss = append(ss[:n:n], fmt.Sprintf("... and %d more", len(ss)-n))
	}
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += "\n  "
		}
		out += s
	}
	return out
}
