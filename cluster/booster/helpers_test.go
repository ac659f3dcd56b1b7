package booster_test

import (
	"context"
	"fmt"
	"github.com/omflow/omflow/internal/testutil"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omflow/omflow/cluster/booster"
	"github.com/omflow/omflow/cluster/client"
	"github.com/omflow/omflow/cluster/elect"
	"github.com/omflow/omflow/cluster/mux"
	"github.com/omflow/omflow/cluster/rpc"
	"github.com/omflow/omflow/store"
)

type syncBuffer = testutil.LogBuffer

// testLogger logs to a buffer, printed when the test fails.
func testLogger(t *testing.T) (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func newKey(t *testing.T) []byte { return testutil.ClusterKey(t) }

// freeAddr returns ip:port with the port free for TCP and UDP right now.
func freeAddr(t *testing.T, ip string) string {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			continue
		}
		_ = pc.Close()
		return addr
	}
	t.Fatal("no free port")
	return ""
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rpcBooster is a Booster served on its own cluster port, without gossip
// or election: the test decides when it leads.
type rpcBooster struct {
	addr string
	b    *booster.Booster
	mux  *mux.Mux
	srv  *rpc.Server
}

func startRPCBooster(t *testing.T, key []byte, db *store.DB, addr string, logger *slog.Logger, tune func(*booster.Config)) *rpcBooster {
	t.Helper()
	cfg := booster.Config{Self: addr, Store: db, Lease: db.Lease(store.BoosterLeaseName), Logger: logger.With("node", addr)}
	if tune != nil {
		tune(&cfg)
	}
	b, err := booster.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mx := mux.New(mux.Config{Addr: addr, Logger: logger})
	ln, err := mx.Listen(mux.KindRPC)
	if err != nil {
		t.Fatal(err)
	}
	if err := mx.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv, err := rpc.NewServer(rpc.ServerConfig{Key: key, Listener: ln, Service: b, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	rb := &rpcBooster{addr: addr, b: b, mux: mx, srv: srv}
	t.Cleanup(rb.stop)
	return rb
}

func (rb *rpcBooster) stop() {
	rb.srv.Stop()
	rb.mux.Stop()
}

// lead makes the booster active for epoch until the returned function is
// called (which waits for Lead to return).
func (rb *rpcBooster) lead(t *testing.T, epoch int64) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		rb.b.Lead(ctx, elect.Term{Holder: rb.addr, Epoch: epoch})
	}()
	eventually(t, 2*time.Second, "the booster to lead", func() bool { _, ok := rb.b.Active(); return ok })
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return stop
}

// fakeEngine holds the jobs dispatched to it until the test completes them,
// and records whether it ever had more than its capacity.
type fakeEngine struct {
	name     string
	capacity int

	mu       sync.Mutex
	base     int // jobs of its own (claimed in degraded mode, say)
	held     []int64
	submits  []int64
	maxLoad  int
	polling  bool
	switches []bool
	wakes    int
}

func (e *fakeEngine) Submit(id int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.base+len(e.held) >= 4*e.capacity {
		return false // the real engine's queue is 4 × workers
	}
	e.held = append(e.held, id)
	e.submits = append(e.submits, id)
	e.maxLoad = max(e.maxLoad, e.base+len(e.held))
	return true
}

func (e *fakeEngine) Load() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.base + len(e.held)
}

func (e *fakeEngine) SetPolling(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.polling != on {
		e.switches = append(e.switches, on)
	}
	e.polling = on
}

func (e *fakeEngine) Wake() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.wakes++
}

func (e *fakeEngine) stats() (held, submits, maxLoad int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.held), len(e.submits), e.maxLoad
}

func (e *fakeEngine) isPolling() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.polling
}

func (e *fakeEngine) submitted(id int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.submits {
		if s == id {
			return true
		}
	}
	return false
}

// complete runs every held job as a server would: claim it in the
// database, finish it, report it done.
func (e *fakeEngine) complete(t *testing.T, db *store.DB, done func(id int64, claimed bool)) int {
	t.Helper()
	e.mu.Lock()
	held := e.held
	e.held = nil
	e.mu.Unlock()
	ctx := context.Background()
	for _, id := range held {
		j, err := db.ClaimJob(ctx, id, e.name+"/test", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if j != nil {
			if err := db.FinishJob(ctx, j); err != nil {
				t.Fatal(err)
			}
		}
		done(id, j != nil)
	}
	return len(held)
}

func startClient(t *testing.T, key []byte, boosters []string, name string, e *fakeEngine, logger *slog.Logger, tune func(*client.Config)) *client.Client {
	t.Helper()
	cfg := client.Config{Key: key, Boosters: boosters, Name: name, Address: "127.0.0.250:5169", Version: "test", Capacity: e.capacity,
		Engine: e, Logger: logger.With("node", name)}
	if tune != nil {
		tune(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

// enqueue commits n ready jobs and returns them as the engine's hook would.
func enqueue(t *testing.T, db *store.DB, n int, runAt time.Time) []client.ReadyJob {
	t.Helper()
	var jobs []*store.Job
	for i := range n {
		jobs = append(jobs, &store.Job{Kind: "step", TicketID: int64(i + 1), RunAt: runAt})
	}
	if err := db.EnqueueJobs(context.Background(), jobs...); err != nil {
		t.Fatal(err)
	}
	out := make([]client.ReadyJob, n)
	for i, j := range jobs {
		out[i] = client.ReadyJob{ID: j.ID, RunAt: j.RunAt}
	}
	return out
}

func countJobs(t *testing.T, db *store.DB) int64 {
	t.Helper()
	c, err := db.JobCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c[store.JobReady] + c[store.JobLeased] + c[store.JobFailed]
}

func hasLine(buf *syncBuffer, s string) bool { return strings.Contains(buf.String(), s) }

func ipAddr(i int) string { return fmt.Sprintf("127.0.0.%d", i) }
