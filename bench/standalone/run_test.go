package standalone

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// omflowBinary builds the omflow binary once for the tests, or uses
// OMFLOW_BENCH_BINARY.
func omflowBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("OMFLOW_BENCH_BINARY"); b != "" {
		return b
	}
	if testing.Short() {
		t.Skip("builds and runs the omflow binary; not in -short mode")
	}
	bin := filepath.Join(t.TempDir(), "omflow")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/omflow/omflow")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build omflow: %v\n%s", err, out)
	}
	return bin
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func testApp(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/minimal.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pgReachable(p PG) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(p.Host, "5432"), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// TestRunFilesAndAdvances runs the whole benchmark briefly on each engine
// and checks that what it reports holds together.
func TestRunFilesAndAdvances(t *testing.T) {
	bin := omflowBinary(t)
	engines := []string{SQLite}
	pg := PG{Host: "127.0.0.1", Port: 5432, User: "postgres", DB: "test"}
	if strings.Contains(os.Getenv("OMFLOW_TEST_DBS"), "postgres") || pgReachable(pg) {
		engines = append(engines, Postgres)
	}
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			run, err := Run(ctx, Options{Binary: bin, Engine: e, Conc: []int{1, 3}, Tickets: 30, PG: pg,
				WorkDir: t.TempDir(), App: testApp(t), CountSQL: e == Postgres, Log: quiet})
			if err != nil {
				t.Fatal(err)
			}
			if run.FlowRef != "bench" || len(run.Results) != 2 {
				t.Fatalf("flow %q, %d results", run.FlowRef, len(run.Results))
			}
			for _, r := range run.Results {
				if r.Filed != 30 || r.Errors != 0 || r.NotAdvanced != 0 || r.FailedJobs != 0 {
					t.Errorf("%d clients: filed %d errors %d (%s) not advanced %d failed jobs %d",
						r.Conc, r.Filed, r.Errors, r.Sample, r.NotAdvanced, r.FailedJobs)
				}
				if r.P50 <= 0 || r.P99 < r.P50 || r.Max < r.P99 || r.Advanced < r.Elapsed || r.Wait50 <= 0 {
					t.Errorf("%d clients: times do not hold together: %+v", r.Conc, r)
				}
				if r.PeakRSS <= 0 || r.PeakHeap <= 0 || r.ServerCPU <= 0 || r.Steps < 30 {
					t.Errorf("%d clients: rss %d heap %d cpu %v steps %d", r.Conc, r.PeakRSS, r.PeakHeap, r.ServerCPU, r.Steps)
				}
				if e == Postgres && (r.SQL == nil || r.SQL.Executes < 30*4) {
					t.Errorf("%d clients: SQL counts %+v", r.Conc, r.SQL)
				}
				if e == Postgres && (r.PGMaxConns < 1 || r.PGConns < 1 || r.PGConns > r.PGMaxConns) {
					t.Errorf("%d clients: PostgreSQL connections %d of %d", r.Conc, r.PGConns, r.PGMaxConns)
				}
			}
			if e == Postgres && run.PGVersion == "" {
				t.Error("no PostgreSQL version")
			}
			table := Table(run.Results)
			if strings.Count(table, "\n") != 4 || !strings.Contains(table, "| 30 |") {
				t.Errorf("table:\n%s", table)
			}
		})
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	if _, err := Run(ctx, Options{Binary: "/bin/true", Engine: SQLite, Conc: []int{1}, Tickets: 1}); err == nil || !strings.Contains(err.Error(), "no app export") {
		t.Errorf("missing app: %v", err)
	}
	if _, err := Run(ctx, Options{Binary: "/bin/true", Engine: "oracle", Conc: []int{1}, Tickets: 1, App: []byte("{}"), WorkDir: t.TempDir(), Log: quiet}); err == nil || !strings.Contains(err.Error(), "oracle") {
		t.Errorf("unknown engine: %v", err)
	}
	_, err := Run(ctx, Options{Binary: "/bin/false", Engine: SQLite, Conc: []int{1}, Tickets: 1, App: []byte("{}"), WorkDir: t.TempDir(), Log: quiet})
	if err == nil || !strings.Contains(err.Error(), "exited during start-up") {
		t.Errorf("server that exits: %v", err)
	}
}
