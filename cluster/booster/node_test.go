package booster_test

import (
	"context"
	"testing"
	"time"

	"github.com/omflow/omflow/cluster"
	"github.com/omflow/omflow/cluster/booster"
	"github.com/omflow/omflow/cluster/client"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

// Whole nodes with gossip and the election: a clean stop hands the lease
// over and the servers follow; a server that crashes has its jobs released
// and dispatched to another at once; the status document shows it all.
func TestNodesHandoverAndDeadServer(t *testing.T) {
	db := storetest.Open(t, store.Postgres)
	logger, logs := testLogger(t)
	key := newKey(t)
	ctx := context.Background()
	boosters := []string{freeAddr(t, ipAddr(41)), freeAddr(t, ipAddr(42))}
	startB := func(self string) *booster.Node {
		n, err := booster.StartNode(ctx, booster.NodeConfig{Key: key, Self: self, Boosters: boosters, Version: "test",
			HTTP: "http-of-" + self, Store: db, Lease: db.Lease(store.BoosterLeaseName), Logger: logger.With("node", self)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Stop)
		return n
	}
	b1, b2 := startB(boosters[0]), startB(boosters[1])
	startS := func(ip int, e *fakeEngine) *client.Node {
		self := freeAddr(t, ipAddr(ip))
		n, err := client.StartNode(ctx, client.NodeConfig{Key: key, Self: self, Boosters: boosters, Name: "s@" + self,
			Role: cluster.RoleServer, Version: "test", HTTP: ipAddr(ip) + ":8080", Capacity: e.capacity, Engine: e,
			Logger: logger.With("node", self)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Stop)
		if err := n.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		return n
	}
	e1, e2 := &fakeEngine{name: "s1", capacity: 4}, &fakeEngine{name: "s2", capacity: 4}
	s1, s2 := startS(43, e1), startS(44, e2)

	active := func() *booster.Node {
		for _, b := range []*booster.Node{b1, b2} {
			if _, ok := b.Active(); ok {
				return b
			}
		}
		return nil
	}
	connectedTo := func(s *client.Node, b *booster.Node) bool {
		addr, _, ok := s.Client().Booster()
		return ok && addr == b.Addr()
	}
	eventually(t, 10*time.Second, "an active booster with both servers", func() bool {
		a := active()
		return a != nil && connectedTo(s1, a) && connectedTo(s2, a)
	})
	if !hasLine(logs, "became active booster") {
		t.Fatal(`"became active booster" not logged`)
	}
	eventually(t, 5*time.Second, "the status document to list 4 alive members", func() bool {
		st := s1.Status()
		alive := 0
		for _, m := range st.Members {
			if m.State == cluster.StateAlive {
				alive++
			}
		}
		return st.Mode == "cluster" && st.ActiveBooster == active().Addr() && alive == 4
	})
	for _, m := range s1.Status().Members {
		if m.Role == cluster.RoleBooster && m.HTTP != "http-of-"+m.Address {
			t.Fatalf("booster member %s shows http %q, want its status address", m.Name, m.HTTP)
		}
	}

	// Clean handover.
	old := active()
	other := b1
	if old == b1 {
		other = b2
	}
	start := time.Now()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		old.Stop() // returns once it has also left gossip and drained its RPC
	}()
	eventually(t, 5*time.Second, "the standby to take over", func() bool { _, ok := other.Active(); return ok })
	elected := time.Since(start)
	eventually(t, 5*time.Second, "the servers to follow", func() bool { return connectedTo(s1, other) && connectedTo(s2, other) })
	t.Logf("clean handover: standby active after %v, servers connected after %v", elected.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	<-stopped
	if !hasLine(logs, "resigned for a handover; electing now") {
		t.Fatal("the stopping booster did not call the standby")
	}
	if !hasLine(logs, "lost active booster role") {
		t.Fatal(`"lost active booster role" not logged`)
	}

	// s2 crashes holding a job: the job goes to s1 at once, not after
	// its lease (an hour) runs out.
	jobs := enqueue(t, db, 1, time.Time{})
	if j, err := db.ClaimJob(ctx, jobs[0].ID, s2.Name()+"/ab12cd34", time.Hour); err != nil || j == nil {
		t.Fatalf("claim: %v %v", j, err)
	}
	crash := time.Now()
	s2.Detach()
	s2.Members().StopWithoutLeave()
	eventually(t, 10*time.Second, "the dead server's job on s1", func() bool { return e1.submitted(jobs[0].ID) })
	t.Logf("job of a crashed server dispatched again after %v", time.Since(crash).Round(time.Millisecond))
}
