package booster_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/omflow/omflow/cluster/booster"
	"github.com/omflow/omflow/cluster/client"
	"github.com/omflow/omflow/cluster/rpc"
	"github.com/omflow/omflow/cluster/rpcpb"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

// The booster gives ready jobs to the least-loaded servers and never more
// than a server's capacity; the rest wait until a server reports room.
func TestDispatchSpreadsByLoadWithinCapacity(t *testing.T) {
	db := storetest.Open(t, store.Postgres)
	logger, _ := testLogger(t)
	key := newKey(t)
	addr := freeAddr(t, ipAddr(11))
	// No periodic sweep: jobs reach the booster only by JobsReady, so the
	// order of events is the test's.
	rb := startRPCBooster(t, key, db, addr, logger, func(c *booster.Config) { c.SweepEvery = time.Hour })
	rb.lead(t, 1)

	a := &fakeEngine{name: "a", capacity: 4, base: 3}
	b := &fakeEngine{name: "b", capacity: 4}
	c := &fakeEngine{name: "c", capacity: 4}
	ca := startClient(t, key, []string{addr}, "a", a, logger, nil)
	cb := startClient(t, key, []string{addr}, "b", b, logger, nil)
	cc := startClient(t, key, []string{addr}, "c", c, logger, nil)
	for _, cl := range []*client.Client{ca, cb, cc} {
		eventually(t, 3*time.Second, "servers to connect", func() bool { _, _, ok := cl.Booster(); return ok })
	}
	time.Sleep(100 * time.Millisecond) // let the first load reports land

	// Five jobs: the busy server (3 of 4) gets none.
	ca.JobsReady(enqueue(t, db, 5, time.Time{}))
	total := func() int {
		_, na, _ := a.stats()
		_, nb, _ := b.stats()
		_, nc, _ := c.stats()
		return na + nb + nc
	}
	eventually(t, 3*time.Second, "5 dispatches", func() bool { return total() == 5 })
	_, na, _ := a.stats()
	_, nb, _ := b.stats()
	_, nc, _ := c.stats()
	if na != 0 || math.Abs(float64(nb-nc)) > 1 {
		t.Fatalf("first 5 jobs went a=%d b=%d c=%d; want none on the busy server and an even split", na, nb, nc)
	}

	// Six more: every server fills up to its capacity, two jobs wait.
	cb.JobsReady(enqueue(t, db, 6, time.Time{}))
	eventually(t, 3*time.Second, "9 dispatches", func() bool { return total() == 9 })
	time.Sleep(300 * time.Millisecond)
	if n := total(); n != 9 {
		t.Fatalf("%d jobs dispatched; want 9 (room: 1 + 4 + 4), the other 2 waiting", n)
	}
	for _, e := range []*fakeEngine{a, b, c} {
		if _, _, m := e.stats(); m > e.capacity {
			t.Fatalf("server %s had %d jobs, capacity %d", e.name, m, e.capacity)
		}
	}

	// Servers finish their jobs; the waiting ones follow; all 11 run once.
	clients := map[*fakeEngine]*client.Client{a: ca, b: cb, c: cc}
	eventually(t, 5*time.Second, "all jobs to run", func() bool {
		for e, cl := range clients {
			e.complete(t, db, cl.JobDone)
		}
		return countJobs(t, db) == 0
	})
	for _, e := range []*fakeEngine{a, b, c} {
		e.complete(t, db, clients[e].JobDone)
		if _, _, m := e.stats(); m > e.capacity {
			t.Fatalf("server %s had %d jobs, capacity %d", e.name, m, e.capacity)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if n := total(); n != 11 {
		t.Fatalf("%d dispatches for 11 jobs; want each job dispatched once", n)
	}
}

// A booster that is not active answers Connect with a Redirect naming the
// lease holder, and a client follows it.
func TestStandbyRedirects(t *testing.T) {
	db := storetest.Open(t, store.Postgres)
	logger, _ := testLogger(t)
	key := newKey(t)
	active := startRPCBooster(t, key, db, freeAddr(t, ipAddr(12)), logger, nil)
	standby := startRPCBooster(t, key, db, freeAddr(t, ipAddr(13)), logger, nil)
	epoch, ok, err := db.Lease(store.BoosterLeaseName).Elect(context.Background(), active.addr, time.Minute)
	if err != nil || !ok {
		t.Fatalf("elect: %v %v", ok, err)
	}
	active.lead(t, epoch)

	cl, err := rpc.Dial(standby.addr, rpc.ClientConfig{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := cl.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&rpcpb.ServerMsg{Msg: &rpcpb.ServerMsg_Register{Register: &rpcpb.Register{
		Name: "s", Address: "127.0.0.99:5169", Capacity: 1}}}); err != nil {
		t.Fatal(err)
	}
	m, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	r := m.GetRedirect()
	if r == nil || r.GetActive() != active.addr || r.GetEpoch() != epoch {
		t.Fatalf("standby answered %v; want a redirect to %s epoch %d", m, active.addr, epoch)
	}

	// A server that knows only the standby ends up at the active booster.
	e := &fakeEngine{name: "s", capacity: 2}
	c := startClient(t, key, []string{standby.addr}, "s", e, logger, nil)
	eventually(t, 3*time.Second, "the client to follow the redirect", func() bool {
		a, ep, ok := c.Booster()
		return ok && a == active.addr && ep == epoch
	})
}

// With no booster a server claims jobs itself after about a second; when a
// booster leads again, dispatch resumes and polling stops.
func TestDegradedModeStartsAndEnds(t *testing.T) {
	db := storetest.Open(t, store.Postgres)
	logger, logs := testLogger(t)
	key := newKey(t)
	addr := freeAddr(t, ipAddr(14))
	e := &fakeEngine{name: "s", capacity: 2}
	start := time.Now()
	c := startClient(t, key, []string{addr}, "s", e, logger, nil)

	eventually(t, 3*time.Second, "degraded mode", e.isPolling)
	if d := time.Since(start); d < client.DefaultDegradedAfter {
		t.Fatalf("degraded after %v; want at least %v without a booster", d, client.DefaultDegradedAfter)
	}
	if !c.Degraded() || !hasLine(logs, "no booster reachable: claiming jobs from the database (degraded mode)") {
		t.Fatalf("degraded = %v; log line missing", c.Degraded())
	}
	c.JobsReady([]client.ReadyJob{{ID: 1}})
	if e.wakes == 0 {
		t.Fatal("a job committed in degraded mode must wake the local poller")
	}

	rb := startRPCBooster(t, key, db, addr, logger, nil)
	stopLead := rb.lead(t, 7)
	eventually(t, 5*time.Second, "dispatch to resume", func() bool { return !e.isPolling() && !c.Degraded() })
	if _, ep, ok := c.Booster(); !ok || ep != 7 {
		t.Fatalf("connected = %v epoch %d; want epoch 7", ok, ep)
	}
	if !hasLine(logs, "booster "+addr+" is active: dispatch resumed") {
		t.Fatal("resume log line missing")
	}

	// The booster steps down and no one takes over: degraded again.
	lost := time.Now()
	stopLead()
	eventually(t, 3*time.Second, "degraded mode again", e.isPolling)
	t.Logf("degraded %v after the only booster stepped down", time.Since(lost).Round(time.Millisecond))
	e.mu.Lock()
	defer e.mu.Unlock()
	if want := []bool{true, false, true}; len(e.switches) != 3 || e.switches[0] != want[0] || e.switches[1] != want[1] || e.switches[2] != want[2] {
		t.Fatalf("polling switched %v; want %v", e.switches, want)
	}
}

// A booster that was deposed while it did not know (paused, cut off) finds
// its fenced writes refused; the active one releases a dead server's jobs
// and dispatches them at once.
func TestDeposedBoosterReleasesNothing(t *testing.T) {
	db := storetest.Open(t, store.Postgres)
	logger, _ := testLogger(t)
	key := newKey(t)
	ctx := context.Background()
	l := db.Lease(store.BoosterLeaseName)
	old := startRPCBooster(t, key, db, freeAddr(t, ipAddr(15)), logger, nil)
	cur := startRPCBooster(t, key, db, freeAddr(t, ipAddr(16)), logger, nil)

	epoch1, ok, err := l.Elect(ctx, old.addr, 300*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("elect old: %v %v", ok, err)
	}
	old.lead(t, epoch1) // it never renews: as if paused
	jobs := enqueue(t, db, 1, time.Time{})
	if j, err := db.ClaimJob(ctx, jobs[0].ID, "dead@127.0.0.99:5169/ab12", time.Hour); err != nil || j == nil {
		t.Fatalf("claim: %v %v", j, err)
	}
	time.Sleep(500 * time.Millisecond)
	epoch2, ok, err := l.Elect(ctx, cur.addr, time.Minute)
	if err != nil || !ok || epoch2 != epoch1+1 {
		t.Fatalf("elect cur = %d %v %v", epoch2, ok, err)
	}

	old.b.MemberDown("dead@127.0.0.99:5169")
	time.Sleep(300 * time.Millisecond)
	if due, err := db.DueJobIDs(ctx, 10); err != nil || len(due) != 0 {
		t.Fatalf("due jobs after the deposed booster's release = %v, %v; want none (the job stays leased)", due, err)
	}

	cur.lead(t, epoch2)
	e := &fakeEngine{name: "live", capacity: 2}
	c := startClient(t, key, []string{cur.addr}, "live", e, logger, nil)
	eventually(t, 3*time.Second, "connect", func() bool { _, _, ok := c.Booster(); return ok })
	cur.b.MemberDown("dead@127.0.0.99:5169")
	eventually(t, 3*time.Second, "the dead server's job to be dispatched", func() bool { return e.submitted(jobs[0].ID) })
}

// Timers: a job due in the future is dispatched when it falls due, not at
// the next sweep.
func TestTimerDispatchedWhenDue(t *testing.T) {
	db := storetest.Open(t, store.Postgres)
	logger, _ := testLogger(t)
	key := newKey(t)
	addr := freeAddr(t, ipAddr(17))
	rb := startRPCBooster(t, key, db, addr, logger, func(c *booster.Config) { c.SweepEvery = time.Hour })
	rb.lead(t, 1)
	e := &fakeEngine{name: "s", capacity: 2}
	c := startClient(t, key, []string{addr}, "s", e, logger, nil)
	eventually(t, 3*time.Second, "connect", func() bool { _, _, ok := c.Booster(); return ok })

	due := db.Now().Add(700 * time.Millisecond)
	jobs := enqueue(t, db, 1, due)
	c.JobsReady(jobs)
	time.Sleep(300 * time.Millisecond)
	if e.submitted(jobs[0].ID) {
		t.Fatal("a timer was dispatched before it fell due")
	}
	eventually(t, 2*time.Second, "the timer", func() bool { return e.submitted(jobs[0].ID) })
	if late := db.Now().Sub(due); late > 300*time.Millisecond || late < 0 {
		t.Fatalf("timer dispatched %v after it fell due", late)
	}
}

// Gossip may declare a busy server dead by mistake: while its stream keeps
// talking the booster does not release its jobs; once the stream is gone,
// it does.
func TestLiveStreamOutvotesGossipDeath(t *testing.T) {
	db := storetest.Open(t, store.Postgres)
	logger, _ := testLogger(t)
	key := newKey(t)
	ctx := context.Background()
	rb := startRPCBooster(t, key, db, freeAddr(t, ipAddr(18)), logger, nil)
	epoch, ok, err := db.Lease(store.BoosterLeaseName).Elect(ctx, rb.addr, time.Minute)
	if err != nil || !ok {
		t.Fatalf("elect: %v %v", ok, err)
	}
	rb.lead(t, epoch)
	e := &fakeEngine{name: "busy", capacity: 2}
	c := startClient(t, key, []string{rb.addr}, "busy", e, logger, nil)
	eventually(t, 3*time.Second, "connect", func() bool { _, _, ok := c.Booster(); return ok })
	jobs := enqueue(t, db, 1, time.Time{})
	if j, err := db.ClaimJob(ctx, jobs[0].ID, "busy/1", time.Hour); err != nil || j == nil {
		t.Fatalf("claim: %v %v", j, err)
	}

	rb.b.MemberDown("busy")
	time.Sleep(time.Second)
	if due, err := db.DueJobIDs(ctx, 10); err != nil || len(due) != 0 {
		t.Fatalf("due = %v, %v: a server that keeps talking lost its jobs", due, err)
	}
	if _, _, ok := c.Booster(); !ok {
		t.Fatal("the live server's stream was dropped")
	}

	c.Stop() // now it is really gone
	eventually(t, 3*time.Second, "the job to be released", func() bool {
		due, err := db.DueJobIDs(ctx, 10)
		return err == nil && len(due) == 1
	})
}

// A server's event reaches every other server, not itself; a change
// counter that moves in the database reaches them all.
func TestEventsRelayed(t *testing.T) {
	db := storetest.Open(t, store.Postgres)
	logger, _ := testLogger(t)
	key := newKey(t)
	addr := freeAddr(t, ipAddr(19))
	rb := startRPCBooster(t, key, db, addr, logger, func(c *booster.Config) { c.VersionsEvery = 50 * time.Millisecond })
	rb.lead(t, 1)
	type got struct {
		mu     sync.Mutex
		events []string
	}
	record := func(g *got) func(*client.Config) {
		return func(c *client.Config) {
			c.OnEvent = func(kind string, payload []byte, version int64) {
				g.mu.Lock()
				defer g.mu.Unlock()
				g.events = append(g.events, fmt.Sprintf("%s|%s|%d", kind, payload, version))
			}
		}
	}
	has := func(g *got, ev string) bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return slices.Contains(g.events, ev)
	}
	var ga, gb got
	ca := startClient(t, key, []string{addr}, "a", &fakeEngine{name: "a", capacity: 1}, logger, record(&ga))
	cb := startClient(t, key, []string{addr}, "b", &fakeEngine{name: "b", capacity: 1}, logger, record(&gb))
	for _, c := range []*client.Client{ca, cb} {
		eventually(t, 3*time.Second, "connect", func() bool { _, _, ok := c.Booster(); return ok })
	}
	time.Sleep(150 * time.Millisecond) // the booster's first read of the counters

	ca.Publish("task", []byte(`{"id":1}`), 0)
	eventually(t, 3*time.Second, "b to get a's event", func() bool { return has(&gb, `task|{"id":1}|0`) })
	if has(&ga, `task|{"id":1}|0`) {
		t.Fatal("a server got its own event back")
	}

	if err := db.BumpVersion(context.Background(), "settings"); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*got{&ga, &gb} {
		eventually(t, 3*time.Second, "the settings change event", func() bool { return has(g, booster.EventChangedPrefix+"settings||1") })
	}
}
