package gossip

import (
	"context"
	"github.com/omflow/omflow/internal/testutil"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/omflow/omflow/cluster"
	"github.com/omflow/omflow/cluster/mux"
)

type syncBuffer = testutil.LogBuffer

func newKey(t *testing.T) []byte { return testutil.ClusterKey(t) }

type testNode struct {
	*Membership
	mux  *mux.Mux
	addr string
	logs *syncBuffer
}

// startNode starts a mux and a Membership on ip with a free port.
func startNode(t *testing.T, ip string, key []byte, meta Meta, seeds []string, tune func(*memberlist.Config)) *testNode {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		logs := &syncBuffer{}
		logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		mx := mux.New(mux.Config{Addr: ip + ":0", Logger: logger})
		if err := mx.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		m, err := New(Config{Key: key, AdvertiseIP: ip, Mux: mx, Meta: meta, Seeds: seeds,
			RejoinInterval: 200 * time.Millisecond, Logger: logger, Tune: tune})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Start(context.Background()); err != nil {
			// The UDP port twin of the free TCP port may be taken: retry.
			lastErr = err
			mx.Stop()
			continue
		}
		n := &testNode{Membership: m, mux: mx, addr: mx.Addr().String(), logs: logs}
		t.Cleanup(func() {
			m.Stop()
			mx.Stop()
			if t.Failed() {
				t.Logf("logs of %s:\n%s", meta.Name, logs.String())
			}
		})
		return n
	}
	t.Fatalf("start node on %s: %v", ip, lastErr)
	return nil
}

func serverMeta(name string) Meta {
	return Meta{Role: cluster.RoleServer, Name: name, Version: "test", HTTP: "127.0.0.1:8080"}
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func memberState(m *Membership, name string) (Member, bool) {
	for _, mem := range m.Members() {
		if mem.Name == name {
			return mem, true
		}
	}
	return Member{}, false
}

func waitEvent(t *testing.T, ch <-chan Event, kind EventKind, name string, within time.Duration) Event {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("subscription closed while waiting for %s of %s", kind, name)
			}
			if e.Kind == kind && e.Member.Name == name {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event for %s within %v", kind, name, within)
		}
	}
}

func TestJoinMetadataAndLeave(t *testing.T) {
	key := newKey(t)
	boosterMeta := Meta{Role: cluster.RoleBooster, Name: "b1", Version: "1.0", BoosterOrder: 1, Active: true, Epoch: 3}
	a := startNode(t, "127.0.0.2", key, boosterMeta, nil, nil)
	events, cancel := a.Subscribe(0)
	defer cancel()
	b := startNode(t, "127.0.0.3", key, serverMeta("s1"), []string{a.addr}, nil)

	got := waitEvent(t, events, EventJoin, "s1", 3*time.Second)
	if got.Member.Meta != serverMeta("s1") || got.Member.Addr != b.addr || got.Member.State != cluster.StateAlive {
		t.Fatalf("join event %+v; want meta %+v at %s", got.Member, serverMeta("s1"), b.addr)
	}
	eventually(t, 3*time.Second, "s1 sees b1 with its metadata", func() bool {
		mem, ok := memberState(b.Membership, "b1")
		return ok && mem.Meta == boosterMeta && mem.State == cluster.StateAlive
	})
	if act, ok := b.ActiveBooster(); !ok || act.Name != "b1" || act.Addr != a.addr {
		t.Errorf("ActiveBooster on s1 = %+v, %v; want b1 at %s", act, ok, a.addr)
	}

	if err := b.UpdateMeta(context.Background(), func(m *Meta) { m.Load = 5 }); err != nil {
		t.Fatal(err)
	}
	upd := waitEvent(t, events, EventUpdate, "s1", 3*time.Second)
	if upd.Member.Meta.Load != 5 {
		t.Errorf("update event load %d, want 5", upd.Member.Meta.Load)
	}
	if err := b.UpdateMeta(context.Background(), func(m *Meta) { m.Role = cluster.RoleBooster }); err == nil {
		t.Error("role change accepted")
	}
	if err := b.UpdateMeta(context.Background(), func(m *Meta) { m.Load = -1 }); err == nil {
		t.Error("invalid metadata accepted")
	}

	if doc := b.Status(); doc.Mode != "cluster" || doc.ActiveBooster != a.addr || doc.Epoch != 3 || doc.ClusterID != cluster.ID(key) || len(doc.Members) != 2 {
		t.Errorf("Status() = %+v", doc)
	}
	st := a.MemberStatuses()
	if len(st) != 2 || st[0].Name != "b1" || !st[0].Active || st[1].Name != "s1" || st[1].Load != 5 || st[1].HTTP != "127.0.0.1:8080" {
		t.Errorf("MemberStatuses = %+v", st)
	}

	b.Stop()
	b.Stop() // harmless
	left := waitEvent(t, events, EventLeave, "s1", 3*time.Second)
	if left.Member.State != cluster.StateLeft {
		t.Errorf("after a clean stop s1 is %s, want left", left.Member.State)
	}
}

func TestCrashDetectedAsSuspectThenDead(t *testing.T) {
	key := newKey(t)
	a := startNode(t, "127.0.0.2", key, serverMeta("a"), nil, nil)
	events, cancel := a.Subscribe(0)
	defer cancel()
	b := startNode(t, "127.0.0.3", key, serverMeta("b"), []string{a.addr}, nil)
	waitEvent(t, events, EventJoin, "b", 3*time.Second)

	// A crash: memberlist stops answering without a leave message.
	start := time.Now()
	b.stop(false)
	waitEvent(t, events, EventSuspect, "b", 2*time.Second)
	dead := waitEvent(t, events, EventFail, "b", 2*time.Second)
	took := time.Since(start)
	if dead.Member.State != cluster.StateDead {
		t.Errorf("state %s, want dead", dead.Member.State)
	}
	t.Logf("crash detected as dead after %v", took)
	if took > 2*time.Second {
		t.Errorf("dead after %v, want well under 2s", took)
	}
}

func TestWrongKeyCannotJoin(t *testing.T) {
	a := startNode(t, "127.0.0.2", newKey(t), serverMeta("a"), nil, nil)
	c := startNode(t, "127.0.0.3", newKey(t), serverMeta("c"), nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Join(ctx, []string{a.addr})
	if err == nil || !strings.Contains(err.Error(), "CLUSTER_KEY") {
		t.Fatalf("join with another key: %v; want an error that mentions CLUSTER_KEY", err)
	}
	eventually(t, 2*time.Second, "a logs the refusal", func() bool {
		return strings.Contains(a.logs.String(), "different CLUSTER_KEY")
	})
	// Each sees itself (its own join event may still be on its way) and
	// no one else.
	eventually(t, 2*time.Second, "each node to list itself", func() bool { return len(a.Members()) > 0 && len(c.Members()) > 0 })
	if n := len(a.Members()); n != 1 {
		t.Errorf("a has %d members, want 1", n)
	}
	if n := len(c.Members()); n != 1 {
		t.Errorf("c has %d members, want 1", n)
	}
}

func TestTwoClustersDoNotMerge(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	a1 := startNode(t, "127.0.0.2", k1, serverMeta("a1"), nil, nil)
	a2 := startNode(t, "127.0.0.3", k1, serverMeta("a2"), []string{a1.addr}, nil)
	// The second cluster is even seeded with the first one's address.
	b1 := startNode(t, "127.0.0.4", k2, serverMeta("b1"), []string{a1.addr}, nil)
	b2 := startNode(t, "127.0.0.5", k2, serverMeta("b2"), []string{b1.addr, a2.addr}, nil)

	eventually(t, 3*time.Second, "each cluster formed", func() bool {
		return len(a1.Members()) == 2 && len(a2.Members()) == 2 && len(b1.Members()) == 2 && len(b2.Members()) == 2
	})
	time.Sleep(600 * time.Millisecond) // several rejoin rounds and gossip intervals
	for _, n := range []*testNode{a1, a2, b1, b2} {
		names := []string{}
		for _, m := range n.Members() {
			names = append(names, m.Name)
		}
		want := "a1,a2"
		if strings.HasPrefix(n.Local().Name, "b") {
			want = "b1,b2"
		}
		if got := strings.Join(names, ","); got != want {
			t.Errorf("%s sees %s, want %s", n.Local().Name, got, want)
		}
	}
	if a1.ClusterID() == b1.ClusterID() {
		t.Error("two keys gave one cluster id")
	}
}

// badMetaDelegate advertises metadata of an unknown format.
type badMetaDelegate struct{ delegate }

func (badMetaDelegate) NodeMeta(int) []byte { return []byte{9, '{', '}'} }

func TestUnknownMetadataRefused(t *testing.T) {
	key := newKey(t)
	a := startNode(t, "127.0.0.2", key, serverMeta("a"), nil, nil)
	startNode(t, "127.0.0.3", key, serverMeta("odd"), []string{a.addr}, func(c *memberlist.Config) {
		c.Delegate = badMetaDelegate{}
		c.Alive = nil // the odd node itself accepts anyone
	})
	eventually(t, 3*time.Second, "a logs the refusal", func() bool {
		return strings.Contains(a.logs.String(), "metadata this version does not understand")
	})
	if _, ok := memberState(a.Membership, "odd"); ok {
		t.Error("node with unknown metadata format became a member")
	}
}

func TestRejoinWhenSeedStartsLater(t *testing.T) {
	key := newKey(t)
	// Pick the seed's address first, start the joiner, then the seed.
	mx := mux.New(mux.Config{Addr: "127.0.0.2:0"})
	if err := mx.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	seedAddr := mx.Addr().String()
	mx.Stop()

	b := startNode(t, "127.0.0.3", key, serverMeta("late"), []string{seedAddr}, nil)
	eventually(t, 2*time.Second, "joiner logs that it waits", func() bool {
		return strings.Contains(b.logs.String(), "waiting for the cluster")
	})
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	mx2 := mux.New(mux.Config{Addr: seedAddr, Logger: logger})
	if err := mx2.Start(context.Background()); err != nil {
		t.Skipf("seed port taken meanwhile: %v", err)
	}
	defer mx2.Stop()
	seed, err := New(Config{Key: key, AdvertiseIP: "127.0.0.2", Mux: mx2, Meta: serverMeta("seed"), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer seed.Stop()
	eventually(t, 3*time.Second, "late joiner found the seed", func() bool {
		mem, ok := memberState(seed, "late")
		return ok && mem.State == cluster.StateAlive
	})
}
