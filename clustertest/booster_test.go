package clustertest

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/omflow/omflow/cluster"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

// Log lines of the booster role and the servers' cluster client that the
// tests (and docs/OPERATIONS.md) rely on.
const (
	logBecameActive = "became active booster"
	logLostActive   = "lost active booster role"
	logDegraded     = "no booster reachable: claiming jobs from the database (degraded mode)"
	logResumed      = "is active: dispatch resumed"
)

var epochRE = regexp.MustCompile(`epoch=(\d+)`)

// epochOf reads epoch=N from a log line.
func epochOf(t *testing.T, line string) int64 {
	t.Helper()
	m := epochRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no epoch=N in log line %q", line)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// other returns the booster that is not b.
func other(c *Cluster, b *Node) *Node {
	if c.Boosters[0] == b {
		return c.Boosters[1]
	}
	return c.Boosters[0]
}

// stable waits until every node is an alive member and one booster is
// active, and returns the status and the active booster.
func stable(t *testing.T, c *Cluster) (cluster.Status, *Node) {
	t.Helper()
	// A node restarted after a crash can take a gossip push/pull round
	// (15 s) to be seen alive again by everyone.
	st, active := c.WaitStable(45 * time.Second)
	checkOneActive(t, st)
	return st, active
}

// checkOneActive fails when the status shows more than one active member,
// or an active member that is not the active booster.
func checkOneActive(t *testing.T, st cluster.Status) {
	t.Helper()
	if err := OneActive(st); err != nil {
		t.Error(err)
	}
}

// checkLease compares the lease row in the database with the status.
func checkLease(t *testing.T, c *Cluster, wantHolder string, wantEpoch int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	holder, epoch, _, err := c.Store().Lease("booster").Current(ctx)
	if err != nil {
		t.Fatalf("read the booster lease: %v", err)
	}
	if holder != wantHolder || epoch != wantEpoch {
		t.Errorf("booster lease: holder %s epoch %d, want %s epoch %d", holder, epoch, wantHolder, wantEpoch)
	}
}

// TestBoosterFailover is the cluster test on PostgreSQL: two
// boosters and three servers; 2,000 tickets filed through all three
// servers while (a) the active booster is killed, (b) it is paused beyond
// its lease and resumed, (c) a server is killed in the middle of its jobs
// and restarted, (d) both boosters are down for a while and come back;
// then a node with a wrong key and a second cluster on the same machine.
func TestBoosterFailover(t *testing.T) {
	needEngine(t, store.Postgres)
	c := startCluster(t, store.Postgres, Options{})
	n := ticketsPerScenario()

	t.Run("a_kill_active_booster", func(t *testing.T) { defer c.Bind(t)(); killActiveBooster(t, c, "a", n) })
	if t.Failed() {
		return
	}
	t.Run("b_pause_active_booster", func(t *testing.T) { defer c.Bind(t)(); pauseActiveBooster(t, c, "b", n) })
	if t.Failed() {
		return
	}
	t.Run("c_kill_server", func(t *testing.T) { defer c.Bind(t)(); killServer(t, c, "c", n) })
	if t.Failed() {
		return
	}
	t.Run("d_both_boosters_down", func(t *testing.T) { defer c.Bind(t)(); bothBoostersDown(t, c, "d", n) })
	if t.Failed() {
		return
	}
	t.Run("wrong_key", func(t *testing.T) { defer c.Bind(t)(); wrongKey(t, c) })
	t.Run("second_cluster", func(t *testing.T) { defer c.Bind(t)(); secondCluster(t, c) })
}

// TestBoosterFailoverMariaDB runs the lease and the job claims on MariaDB:
// scenario (a), the active booster killed under load.
func TestBoosterFailoverMariaDB(t *testing.T) {
	needEngine(t, store.MySQL)
	c := startCluster(t, store.MySQL, Options{})
	killActiveBooster(t, c, "m", ticketsPerScenario())
}

// killActiveBooster is scenario (a): SIGKILL of the active booster under
// load. The standby becomes active with a higher epoch; the killed one,
// restarted, comes back as standby.
func killActiveBooster(t *testing.T, c *Cluster, prefix string, n int) {
	stable(t, c)
	scenario(t, c, prefix, n, 0, func(l *Load) {
		l.WaitProgress(n / 4)
		// Who is active is asked right before the kill: the role may have
		// moved back to the preferred booster since the last scenario.
		active, epoch0 := c.WaitActiveBooster(10 * time.Second)
		standby := other(c, active)
		mark := standby.LogSize()
		killed := time.Now()
		active.Kill()
		line := standby.WaitLog(mark, 10*time.Second, logBecameActive)
		if e := epochOf(t, line); e <= epoch0 {
			t.Errorf("%s became active with epoch %d, not above the killed active's %d", standby.Name, e, epoch0)
		}
		st := c.WaitStatus(10*time.Second, standby.Name+" active", func(st cluster.Status) bool {
			return st.ActiveBooster == standby.Addr() && st.Epoch > epoch0
		})
		t.Logf("%s killed; %s active (epoch %d → %d) within %s by the servers' status", active.Name, standby.Name, epoch0, st.Epoch, time.Since(killed).Round(time.Millisecond))
		checkOneActive(t, st)
		checkLease(t, c, standby.Addr(), st.Epoch)
		l.WaitProgress(n / 2)
		active.Restart()
		active.WaitHealthy(30 * time.Second)
	})
	stable(t, c)
}

// pauseActiveBooster is scenario (b): SIGSTOP of the active booster for
// longer than its lease, then SIGCONT. The standby takes over; the paused
// one finds on waking that it is no longer active and does no harm.
func pauseActiveBooster(t *testing.T, c *Cluster, prefix string, n int) {
	stable(t, c)
	scenario(t, c, prefix, n, 0, func(l *Load) {
		l.WaitProgress(n / 4)
		active, epoch0 := c.WaitActiveBooster(10 * time.Second)
		standby := other(c, active)
		markS, markA := standby.LogSize(), active.LogSize()
		paused := time.Now()
		active.Pause()
		line := standby.WaitLog(markS, 10*time.Second, logBecameActive)
		epoch := epochOf(t, line)
		if epoch <= epoch0 {
			t.Errorf("%s became active with epoch %d, not above the paused active's %d", standby.Name, epoch, epoch0)
		}
		c.WaitStatus(10*time.Second, standby.Name+" active", func(st cluster.Status) bool {
			return st.ActiveBooster == standby.Addr() && st.Epoch == epoch
		})
		// Paused for three lease lengths (TTL 1.5 s) in all.
		time.Sleep(time.Until(paused.Add(4500 * time.Millisecond)))
		active.Resume()
		active.WaitLog(markA, 10*time.Second, logLostActive)
		t.Logf("%s paused %s; %s active with epoch %d; %s stepped down on resume",
			active.Name, time.Since(paused).Round(time.Millisecond), standby.Name, epoch, active.Name)
		// For the next two seconds the woken booster stays standby and
		// nobody else claims to be active.
		until := time.Now().Add(2 * time.Second)
		for time.Now().Before(until) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			on, _, err := c.BoosterState(ctx, active)
			cancel()
			if err == nil && on {
				t.Errorf("%s says it is active again right after waking from the pause", active.Name)
				break
			}
			st := c.WaitStatus(5*time.Second, "a status", func(cluster.Status) bool { return true })
			checkOneActive(t, st)
			if st.ActiveBooster != standby.Addr() && st.ActiveBooster != "" {
				t.Errorf("active booster %s (epoch %d) right after the paused one woke; want %s", st.ActiveBooster, st.Epoch, standby.Addr())
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		checkLease(t, c, standby.Addr(), epoch)
	})
	stable(t, c)
}

// killServer is scenario (c): SIGKILL of a server while it holds leased
// jobs. The active booster hands its jobs to the others at once (not after
// the 30 s job lease); the server is restarted and rejoins.
func killServer(t *testing.T, c *Cluster, prefix string, n int) {
	stable(t, c)
	victim := c.Servers[1]
	res := scenario(t, c, prefix, n, 0, func(l *Load) {
		l.WaitProgress(n / 4)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for {
			k, err := c.JobsLeasedBy(ctx, victim.Name)
			if err != nil {
				t.Fatalf("jobs leased by %s: %v", victim.Name, err)
			}
			if k > 0 {
				break
			}
			if l.Progress() >= n {
				t.Fatalf("%s was never seen holding a leased job while the tickets were filed", victim.Name)
			}
			time.Sleep(2 * time.Millisecond)
		}
		killed := time.Now()
		victim.Kill()
		var left int
		for {
			left, _ = c.JobsLeasedBy(ctx, victim.Name)
			if left == 0 || time.Since(killed) > 5*time.Second {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if left > 0 {
			t.Errorf("%d jobs still leased by the killed %s 5 s after the kill (the job lease is 30 s): the active booster should re-dispatch the jobs of a node gossip reports dead", left, victim.Name)
		} else {
			t.Logf("jobs of the killed %s released %s after the kill", victim.Name, time.Since(killed).Round(time.Millisecond))
		}
		c.WaitStatus(10*time.Second, victim.Name+" dead", func(st cluster.Status) bool {
			m, ok := Member(st, victim)
			return !ok || m.State == cluster.StateDead
		})
		victim.Restart()
		victim.WaitHealthy(60 * time.Second)
	})
	if res.PerNode[victim.Name] == 0 {
		t.Errorf("no ticket was filed through %s", victim.Name)
	}
	stable(t, c)
}

// bothBoostersDown is scenario (d): both boosters killed for a while under
// load. The servers fall back to claiming jobs from the database and
// tickets keep closing; when the boosters return, dispatch resumes with no
// operator action.
func bothBoostersDown(t *testing.T, c *Cluster, prefix string, n int) {
	stable(t, c)
	scenario(t, c, prefix, n, 0, func(l *Load) {
		l.WaitProgress(n / 5)
		marks := map[*Node]int64{}
		for _, s := range c.Servers {
			marks[s] = s.LogSize()
		}
		for _, b := range c.Boosters {
			b.Kill()
		}
		down := time.Now()
		for _, s := range c.Servers {
			s.WaitLog(marks[s], 10*time.Second, logDegraded)
		}
		c.WaitStatus(10*time.Second, "no active booster", func(st cluster.Status) bool { return st.ActiveBooster == "" })
		// Tickets keep closing while no booster runs.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, closed0, _, err := c.TicketCounts(ctx, 0, 1<<62)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(down.Add(5 * time.Second)))
		_, closed1, _, err := c.TicketCounts(ctx, 0, 1<<62)
		if err != nil {
			t.Fatal(err)
		}
		if closed1 <= closed0 {
			t.Errorf("no ticket closed while both boosters were down (%d closed before, %d after)", closed0, closed1)
		}
		t.Logf("both boosters down %s: %d tickets closed meanwhile", time.Since(down).Round(time.Millisecond), closed1-closed0)
		for _, s := range c.Servers {
			marks[s] = s.LogSize()
		}
		for _, b := range c.Boosters {
			b.Restart()
		}
		back := time.Now()
		for _, s := range c.Servers {
			s.WaitLog(marks[s], 20*time.Second, logResumed)
		}
		t.Logf("dispatch resumed on every server %s after the boosters restarted", time.Since(back).Round(time.Millisecond))
	})
	stable(t, c)
}

// wrongKey: a server with another CLUSTER_KEY pointed at the cluster's
// boosters cannot join: its log says why and it never appears in members.
func wrongKey(t *testing.T, c *Cluster) {
	marks := map[*Node]int64{}
	for _, b := range c.Boosters {
		marks[b] = b.LogSize()
	}
	x := c.ExtraNode("intruder", "server", "127.0.0.7")
	x.Env = map[string]string{"OMFLOW_CLUSTER_KEY": NewClusterKey()}
	x.Start()
	x.WaitHealthy(60 * time.Second)
	keyRE := regexp.MustCompile(`cluster key mismatch|different CLUSTER_KEY|label mismatch`)
	waitLogRE(t, x, 0, 20*time.Second, keyRE)
	refused := false
	for _, b := range c.Boosters {
		refused = refused || keyRE.MatchString(b.Log()[marks[b]:])
	}
	if !refused {
		t.Errorf("no booster logged the refusal of the node with the wrong key (%s)", keyRE)
	}
	until := time.Now().Add(3 * time.Second)
	for time.Now().Before(until) {
		st := c.WaitStatus(5*time.Second, "a status", func(cluster.Status) bool { return true })
		if _, ok := Member(st, x); ok {
			t.Fatalf("the node with the wrong key is a member: %+v", st.Members)
		}
		time.Sleep(250 * time.Millisecond)
	}
	x.Kill()
}

// secondCluster: a second cluster with its own key on the same machine,
// even one whose settings name a booster of the first cluster, never
// merges with the first.
func secondCluster(t *testing.T, a *Cluster) {
	mark := a.Boosters[0].LogSize()
	b := New(t, Options{Binary: binary(t), DB: storetestOptions(t, a), Name: "x",
		BoosterIPs: []string{"127.0.0.8"}, ServerIPs: []string{"127.0.0.9"}})
	// BOOSTER is b's own booster; SECOND_BOOSTER wrongly names a's first
	// booster, so b's nodes try to gossip with it.
	b.SetBoosterAddrs(b.Boosters[0].Addr(), a.Boosters[0].Addr())
	b.Start()
	b.Login()
	_, active := b.WaitActive(30 * time.Second)
	if active != b.Boosters[0] {
		t.Errorf("cluster x: active booster %s, want its own %s", active, b.Boosters[0])
	}
	waitLogRE(t, a.Boosters[0], mark, 20*time.Second, regexp.MustCompile(`label mismatch|different CLUSTER_KEY|cluster key mismatch`))
	until := time.Now().Add(3 * time.Second)
	for time.Now().Before(until) {
		sa := a.WaitStatus(5*time.Second, "a status", func(cluster.Status) bool { return true })
		for _, n := range b.Nodes() {
			if _, ok := Member(sa, n); ok {
				t.Fatalf("cluster x's node %s is a member of the first cluster: %+v", n.Name, sa.Members)
			}
		}
		sb := b.WaitStatus(5*time.Second, "a status", func(cluster.Status) bool { return true })
		for _, n := range a.Nodes() {
			if _, ok := Member(sb, n); ok {
				t.Fatalf("the first cluster's node %s is a member of cluster x: %+v", n.Name, sb.Members)
			}
		}
		if sa.ClusterID == sb.ClusterID {
			t.Fatalf("both clusters report cluster id %s", sa.ClusterID)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// storetestOptions makes another fresh database on the engine of c.
func storetestOptions(t *testing.T, c *Cluster) store.Options {
	return storetest.Options(t, c.opts.DB.Engine)
}

func waitLogRE(t *testing.T, n *Node, offset int64, timeout time.Duration, re *regexp.Regexp) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		log := n.Log()
		if int64(len(log)) > offset && re.MatchString(log[offset:]) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s logged nothing matching %q within %s; last lines:\n%s", n, re, timeout, n.Tail(25))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
