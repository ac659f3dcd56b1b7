// Package gossip is cluster membership in OMFLOW's terms: which boosters,
// servers and agents are up, what each one is (its gossip metadata), and
// events when that changes. It wraps hashicorp/memberlist, encrypted with
// the cluster key and labelled with the cluster id, on the shared cluster
// port (see package mux).
package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/omflow/omflow/cluster"
	"github.com/omflow/omflow/cluster/mux"
)

// Failure-detection settings, tuned for a LAN or loopback. cluster/doc.go
// explains how they add up to detection in well under 2 s.
const (
	ProbeInterval    = 200 * time.Millisecond
	ProbeTimeout     = 150 * time.Millisecond
	SuspicionMult    = 2
	GossipInterval   = 100 * time.Millisecond
	PushPullInterval = 15 * time.Second
)

// TunedConfig returns memberlist's LAN configuration with OMFLOW's
// failure-detection settings. Transport, name, keys, label and delegates
// are filled in by Start.
func TunedConfig() *memberlist.Config {
	c := memberlist.DefaultLANConfig()
	c.ProbeInterval = ProbeInterval
	c.ProbeTimeout = ProbeTimeout
	// With SuspicionMult 2 memberlist expects no independent confirmations
	// (k = mult-2 = 0), so the suspicion timeout is a fixed
	// 2 × max(1, log10(n)) × ProbeInterval: 400 ms below 10 nodes.
	c.SuspicionMult = SuspicionMult
	c.SuspicionMaxTimeoutMult = 4
	c.IndirectChecks = 2
	c.GossipInterval = GossipInterval
	c.GossipNodes = 3
	c.RetransmitMult = 3
	c.PushPullInterval = PushPullInterval
	c.GossipToTheDeadTime = 15 * time.Second
	c.TCPTimeout = 2 * time.Second
	// Lifeguard: an overloaded node stretches its own probe timing (up to
	// 4×) instead of accusing healthy peers.
	c.AwarenessMaxMultiplier = 4
	return c
}

// ForgetAfter is how long a dead or left member stays in Members (and so in
// the status document) before it is dropped.
const ForgetAfter = time.Hour

// DefaultRejoinInterval is how often a node retries the seeds that are not
// (or no longer) members.
const DefaultRejoinInterval = 2 * time.Second

// Config configures a Membership.
type Config struct {
	// Key is the decoded CLUSTER_KEY (32 bytes): it encrypts gossip and
	// derives the memberlist label.
	Key []byte
	// AdvertiseIP is LOCAL_IP: how the other nodes reach this one (an IP
	// or a host name, resolved at Start).
	AdvertiseIP string
	// BindIP is the IP the UDP socket binds; AdvertiseIP's address when
	// empty. The TCP side is whatever the Mux listens on.
	BindIP string
	// Mux is the started cluster-port mux; its port is the gossip port.
	Mux *mux.Mux
	// Meta is this node's initial metadata; Meta.Name is the memberlist
	// node name and must be unique in the cluster ("IP:PORT" when empty).
	Meta Meta
	// Seeds are cluster addresses "IP:PORT" to join, normally BOOSTER and
	// SECOND_BOOSTER. Seeds that are not members are retried every
	// RejoinInterval, so start order does not matter.
	Seeds          []string
	RejoinInterval time.Duration
	Logger         *slog.Logger
	// Tune, when set, may adjust the memberlist configuration after
	// everything else is filled in (tests).
	Tune func(*memberlist.Config)
}

// Member is one node as this node sees it.
type Member struct {
	Name  string
	Addr  string // cluster address "IP:PORT"
	State cluster.MemberState
	Since time.Time // when State last changed, local clock
	Meta  Meta
}

// EventKind says what happened to a member.
type EventKind int

// Membership events.
const (
	EventJoin    EventKind = iota + 1 // a member is alive (new or back)
	EventUpdate                       // an alive member changed its metadata
	EventSuspect                      // this node's probes of the member failed
	EventRecover                      // a suspect member turned out alive
	EventFail                         // the member is dead
	EventLeave                        // the member left cleanly
)

func (k EventKind) String() string {
	switch k {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventSuspect:
		return "suspect"
	case EventRecover:
		return "recover"
	case EventFail:
		return "fail"
	case EventLeave:
		return "leave"
	}
	return "unknown(" + strconv.Itoa(int(k)) + ")"
}

// Event is a change of one member; Member is the state after the change.
type Event struct {
	Kind   EventKind
	Member Member
}

// Membership is this node's view of the cluster. Create it with New, then
// Start and Stop it.
type Membership struct {
	cfg       Config
	logger    *slog.Logger
	clusterID string

	metaMu    sync.Mutex
	meta      Meta
	metaBytes []byte

	ml       *memberlist.Memberlist
	mlConfig *memberlist.Config

	// raw events from memberlist callbacks, drained by the event loop.
	qMu    sync.Mutex
	queue  []rawEvent
	qReady chan struct{}

	stateMu sync.RWMutex
	members map[string]*Member
	suspect map[string]time.Time // name → when the suspicion lapses

	subMu  sync.Mutex
	subs   map[int]chan Event
	nextID int

	refusedMu sync.Mutex
	refused   map[string]string // name → last reason logged

	lifeMu  sync.Mutex
	started bool
	stopped bool
	done    chan struct{}
	wg      sync.WaitGroup
}

type rawKind int

const (
	rawJoin rawKind = iota
	rawUpdate
	rawLeave
	rawSuspect
)

type rawEvent struct {
	kind rawKind
	name string
	addr string
	meta []byte
}

// New checks cfg and returns a Membership that is not yet started.
func New(cfg Config) (*Membership, error) {
	if len(cfg.Key) != cluster.KeySize {
		return nil, fmt.Errorf("gossip: cluster key is %d bytes, want %d", len(cfg.Key), cluster.KeySize)
	}
	if cfg.Mux == nil {
		return nil, errors.New("gossip: Mux is required")
	}
	if cfg.AdvertiseIP == "" {
		return nil, errors.New("gossip: AdvertiseIP (LOCAL_IP) is required")
	}
	if cfg.RejoinInterval <= 0 {
		cfg.RejoinInterval = DefaultRejoinInterval
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Membership{
		cfg:       cfg,
		logger:    logger.With("component", "gossip"),
		clusterID: cluster.ID(cfg.Key),
		qReady:    make(chan struct{}, 1),
		members:   map[string]*Member{},
		suspect:   map[string]time.Time{},
		subs:      map[int]chan Event{},
		refused:   map[string]string{},
		done:      make(chan struct{}),
	}, nil
}

// ClusterID returns the cluster id derived from the key.
func (m *Membership) ClusterID() string { return m.clusterID }

// Start binds UDP on the mux's port, starts memberlist and joins the seeds
// in the background. The mux must be started.
func (m *Membership) Start(ctx context.Context) error {
	m.lifeMu.Lock()
	defer m.lifeMu.Unlock()
	if m.started || m.stopped {
		return errors.New("gossip: Start called twice or after Stop")
	}
	muxAddr := m.cfg.Mux.Addr()
	if muxAddr == nil {
		return errors.New("gossip: the cluster port mux is not started")
	}
	port := muxAddr.Port
	advIP, err := resolveIP(ctx, m.cfg.AdvertiseIP)
	if err != nil {
		return fmt.Errorf("gossip: LOCAL_IP %q: %w", m.cfg.AdvertiseIP, err)
	}
	bindIP := advIP
	if m.cfg.BindIP != "" {
		if bindIP, err = resolveIP(ctx, m.cfg.BindIP); err != nil {
			return fmt.Errorf("gossip: bind address %q: %w", m.cfg.BindIP, err)
		}
	}
	self := net.JoinHostPort(advIP.String(), strconv.Itoa(port))

	meta := m.cfg.Meta
	if meta.Name == "" {
		meta.Name = self
	}
	metaBytes, err := EncodeMeta(meta)
	if err != nil {
		return fmt.Errorf("gossip: own %w", err)
	}
	m.metaMu.Lock()
	m.meta, m.metaBytes = meta, metaBytes
	m.metaMu.Unlock()

	streams, err := m.cfg.Mux.Listen(mux.KindGossip)
	if err != nil {
		return fmt.Errorf("gossip: %w", err)
	}
	tr, err := newTransport(m.logger, bindIP, advIP, port, streams)
	if err != nil {
		_ = streams.Close()
		return err
	}

	c := TunedConfig()
	c.Name = meta.Name
	c.Transport = tr
	c.AdvertiseAddr = advIP.String()
	c.AdvertisePort = port
	c.BindAddr = bindIP.String()
	c.BindPort = port
	c.SecretKey = m.cfg.Key
	c.Label = m.clusterID
	c.SkipInboundLabelCheck = false
	c.Delegate = delegate{m}
	c.Events = eventDelegate{m}
	c.Alive = aliveDelegate{m}
	c.Logger = newLogBridge(m)
	c.LogOutput = nil
	if m.cfg.Tune != nil {
		m.cfg.Tune(c)
	}
	m.mlConfig = c

	// The event loop must run before memberlist.Create, which reports
	// this node's own join.
	m.wg.Add(1)
	go m.eventLoop()

	ml, err := memberlist.Create(c)
	if err != nil {
		close(m.done)
		m.wg.Wait()
		_ = tr.Shutdown()
		m.stopped = true
		return fmt.Errorf("gossip: start memberlist on %s: %w", self, err)
	}
	m.ml = ml
	m.started = true
	m.logger.Info("gossip started", "node", meta.Name, "addr", self, "cluster_id", m.clusterID, "role", string(meta.Role))

	if seeds := m.otherSeeds(self); len(seeds) > 0 {
		m.wg.Add(1)
		go m.rejoinLoop(seeds)
	}
	return nil
}

func (m *Membership) otherSeeds(self string) []string {
	var out []string
	for _, s := range m.cfg.Seeds {
		if s != "" && s != self && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Stop announces a clean leave, shuts memberlist down and closes every
// subscription. Calling Stop twice, or before Start, is harmless.
func (m *Membership) Stop() { m.stop(true) }

// StopWithoutLeave shuts down without announcing a leave, as a crash
// would: the peers declare this node dead. For tests of failure handling.
func (m *Membership) StopWithoutLeave() { m.stop(false) }

// stop shuts down; without leave it behaves like a crash towards the peers
// (tests).
func (m *Membership) stop(leave bool) {
	m.lifeMu.Lock()
	defer m.lifeMu.Unlock()
	if m.stopped {
		return
	}
	m.stopped = true
	if !m.started {
		return
	}
	if leave {
		m.leave()
	}
	close(m.done)
	_ = m.ml.Shutdown()
	m.wg.Wait()
	m.subMu.Lock()
	for id, ch := range m.subs {
		close(ch)
		delete(m.subs, id)
	}
	m.subMu.Unlock()
	m.logger.Info("gossip stopped")
}

func (m *Membership) leave() {
	// Mark the leave in metadata first so peers record "left", not "dead".
	m.metaMu.Lock()
	meta := m.meta
	meta.Leaving = true
	if b, err := EncodeMeta(meta); err == nil {
		m.meta, m.metaBytes = meta, b
	}
	m.metaMu.Unlock()
	if err := m.ml.UpdateNode(500 * time.Millisecond); err != nil {
		m.logger.Debug("gossip: announce leave", "err", err)
	}
	if err := m.ml.Leave(time.Second); err != nil {
		m.logger.Warn("gossip: leave", "err", err)
	}
}

// Join contacts addrs ("IP:PORT") and merges their view of the cluster.
func (m *Membership) Join(ctx context.Context, addrs []string) (int, error) {
	if m.ml == nil {
		return 0, errors.New("gossip: join before Start")
	}
	type result struct {
		n   int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		n, err := m.ml.Join(addrs)
		ch <- result{n, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil && r.n == 0 {
			return 0, fmt.Errorf("gossip: join %v: %w (if the node is up, check that CLUSTER_KEY is the same on both nodes)", addrs, r.err)
		}
		return r.n, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("gossip: join %v: %w", addrs, ctx.Err())
	}
}

// rejoinLoop joins the seeds that are not alive members, so a node started
// before its boosters, or cut off for a while, finds the cluster again.
func (m *Membership) rejoinLoop(seeds []string) {
	defer m.wg.Done()
	failures := 0
	for {
		var missing []string
		for _, s := range seeds {
			if !m.aliveAt(s) {
				missing = append(missing, s)
			}
		}
		if len(missing) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*m.mlConfig.TCPTimeout)
			n, err := m.Join(ctx, missing)
			cancel()
			switch {
			case err != nil:
				failures++
				// Say it at once, then about every minute.
				if failures == 1 || failures%30 == 0 {
					m.logger.Warn("gossip: waiting for the cluster: no seed reachable yet", "seeds", missing, "err", err)
				}
			case n > 0:
				if failures > 0 {
					m.logger.Info("gossip: joined the cluster", "via", missing)
				}
				failures = 0
			}
		}
		select {
		case <-m.done:
			return
		case <-time.After(m.cfg.RejoinInterval):
		}
	}
}

func (m *Membership) aliveAt(addr string) bool {
	m.stateMu.RLock()
	defer m.stateMu.RUnlock()
	for _, mem := range m.members {
		if mem.Addr == addr && (mem.State == cluster.StateAlive || mem.State == cluster.StateSuspect) {
			return true
		}
	}
	return false
}

// Local returns this node's own member entry.
func (m *Membership) Local() Member {
	m.metaMu.Lock()
	meta := m.meta
	m.metaMu.Unlock()
	m.stateMu.RLock()
	defer m.stateMu.RUnlock()
	if mem, ok := m.members[meta.Name]; ok {
		out := *mem
		out.Meta = meta
		return out
	}
	return Member{Name: meta.Name, State: cluster.StateAlive, Meta: meta}
}

// Members returns every member this node knows, including dead and left
// ones (until memberlist forgets them), sorted by name.
func (m *Membership) Members() []Member {
	m.stateMu.RLock()
	out := make([]Member, 0, len(m.members))
	for _, mem := range m.members {
		out = append(out, *mem)
	}
	m.stateMu.RUnlock()
	slices.SortFunc(out, func(a, b Member) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// ActiveBooster returns the alive booster that announces itself active
// with the highest epoch.
func (m *Membership) ActiveBooster() (Member, bool) {
	var best Member
	found := false
	for _, mem := range m.Members() {
		if mem.Meta.Role != cluster.RoleBooster || !mem.Meta.Active {
			continue
		}
		if mem.State != cluster.StateAlive && mem.State != cluster.StateSuspect {
			continue
		}
		if !found || mem.Meta.Epoch > best.Meta.Epoch {
			best, found = mem, true
		}
	}
	return best, found
}

// MemberStatuses renders Members for the cluster status document.
func (m *Membership) MemberStatuses() []cluster.MemberStatus {
	mems := m.Members()
	out := make([]cluster.MemberStatus, 0, len(mems))
	for _, mem := range mems {
		out = append(out, cluster.MemberStatus{
			Name:    mem.Name,
			Role:    mem.Meta.Role,
			Address: mem.Addr,
			HTTP:    mem.Meta.HTTP,
			State:   mem.State,
			Version: mem.Meta.Version,
			Active:  mem.Meta.Active && (mem.State == cluster.StateAlive || mem.State == cluster.StateSuspect),
			Load:    mem.Meta.Load,
		})
	}
	return out
}

// Status is the cluster status document as gossip sees it: the active
// booster is the alive booster announcing itself active with the highest
// epoch ("" and 0 when there is none). The database lease is the truth;
// this is what gossip says about it.
func (m *Membership) Status() cluster.Status {
	st := cluster.Status{Mode: "cluster", ClusterID: m.clusterID, Members: m.MemberStatuses()}
	act, ok := m.ActiveBooster()
	if ok {
		st.ActiveBooster, st.Epoch = act.Addr, act.Meta.Epoch
	}
	// A paused old active may still announce itself for a moment: only
	// the highest epoch is shown active.
	for i := range st.Members {
		st.Members[i].Active = ok && st.Members[i].Name == act.Name
	}
	return st
}

// UpdateMeta changes this node's metadata with fn and gossips it. The name
// and role cannot change. It waits (until ctx ends, at most 2 s) for the
// update to reach at least one peer; the local change stands either way.
func (m *Membership) UpdateMeta(ctx context.Context, fn func(*Meta)) error {
	if m.ml == nil {
		return errors.New("gossip: UpdateMeta before Start")
	}
	m.metaMu.Lock()
	next := m.meta
	fn(&next)
	if next.Name != m.meta.Name || next.Role != m.meta.Role {
		m.metaMu.Unlock()
		return fmt.Errorf("gossip: update metadata: name and role cannot change (%s/%s → %s/%s)", m.meta.Name, m.meta.Role, next.Name, next.Role)
	}
	b, err := EncodeMeta(next)
	if err != nil {
		m.metaMu.Unlock()
		return fmt.Errorf("gossip: update %w", err)
	}
	m.meta, m.metaBytes = next, b
	m.metaMu.Unlock()

	timeout := 2 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if timeout <= 0 {
		return fmt.Errorf("gossip: update metadata: %w", context.DeadlineExceeded)
	}
	if err := m.ml.UpdateNode(timeout); err != nil {
		return fmt.Errorf("gossip: update metadata: %w", err)
	}
	return nil
}

// Subscribe returns a channel of membership events. Each subscriber has a
// buffer of buf events (64 when buf <= 0); when a subscriber falls that far
// behind, further events for it are dropped with a warning, so consumers
// that must not miss a change should also reconcile with Members() now and
// then. The channel is closed by cancel or Stop.
func (m *Membership) Subscribe(buf int) (<-chan Event, func()) {
	if buf <= 0 {
		buf = 64
	}
	ch := make(chan Event, buf)
	m.subMu.Lock()
	if m.stopped {
		m.subMu.Unlock()
		close(ch)
		return ch, func() {}
	}
	id := m.nextID
	m.nextID++
	m.subs[id] = ch
	m.subMu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			m.subMu.Lock()
			defer m.subMu.Unlock()
			if c, ok := m.subs[id]; ok {
				close(c)
				delete(m.subs, id)
			}
		})
	}
}

// enqueue records a memberlist callback; it never blocks memberlist.
func (m *Membership) enqueue(ev rawEvent) {
	m.qMu.Lock()
	m.queue = append(m.queue, ev)
	m.qMu.Unlock()
	select {
	case m.qReady <- struct{}{}:
	default:
	}
}

// eventLoop is the one goroutine that turns memberlist callbacks into
// member states and events.
func (m *Membership) eventLoop() {
	defer m.wg.Done()
	tick := time.NewTicker(ProbeInterval)
	defer tick.Stop()
	for {
		select {
		case <-m.done:
			m.drain()
			return
		case <-m.qReady:
			m.drain()
		case now := <-tick.C:
			m.expireSuspicions(now)
			m.forget(now)
		}
	}
}

func (m *Membership) drain() {
	for {
		m.qMu.Lock()
		batch := m.queue
		m.queue = nil
		m.qMu.Unlock()
		if len(batch) == 0 {
			return
		}
		for _, ev := range batch {
			m.apply(ev)
		}
	}
}

func (m *Membership) apply(ev rawEvent) {
	now := time.Now()
	var out []Event
	m.stateMu.Lock()
	mem, known := m.members[ev.name]
	switch ev.kind {
	case rawJoin, rawUpdate:
		meta, err := ParseMeta(ev.meta)
		if err != nil {
			// NotifyAlive refuses such nodes; this only guards the table.
			m.stateMu.Unlock()
			return
		}
		delete(m.suspect, ev.name)
		if !known {
			mem = &Member{Name: ev.name}
			m.members[ev.name] = mem
		}
		wasLive := known && (mem.State == cluster.StateAlive || mem.State == cluster.StateSuspect)
		wasSuspect := known && mem.State == cluster.StateSuspect
		mem.Addr, mem.Meta = ev.addr, meta
		if !wasLive || mem.State != cluster.StateAlive {
			mem.State, mem.Since = cluster.StateAlive, now
		}
		switch {
		case !wasLive:
			out = append(out, Event{EventJoin, *mem})
		case wasSuspect:
			out = append(out, Event{EventRecover, *mem})
			if ev.kind == rawUpdate {
				out = append(out, Event{EventUpdate, *mem})
			}
		default:
			out = append(out, Event{EventUpdate, *mem})
		}
	case rawLeave:
		if !known {
			m.stateMu.Unlock()
			return
		}
		delete(m.suspect, ev.name)
		if meta, err := ParseMeta(ev.meta); err == nil {
			mem.Meta = meta
		}
		kind := EventFail
		mem.State = cluster.StateDead
		if mem.Meta.Leaving {
			kind, mem.State = EventLeave, cluster.StateLeft
		}
		mem.Since = now
		out = append(out, Event{kind, *mem})
	case rawSuspect:
		if !known || mem.State != cluster.StateAlive {
			m.stateMu.Unlock()
			return
		}
		mem.State, mem.Since = cluster.StateSuspect, now
		m.suspect[ev.name] = now.Add(m.suspicionWindow())
		out = append(out, Event{EventSuspect, *mem})
	}
	m.stateMu.Unlock()
	for _, e := range out {
		m.logEvent(e)
		m.publish(e)
	}
}

// suspicionWindow is how long a suspect stays suspect without being
// declared dead before this node concludes the suspicion was refuted
// (memberlist reports refutations to nobody).
func (m *Membership) suspicionWindow() time.Duration {
	c := m.mlConfig
	n := max(1, len(m.members))
	scale := 1.0
	if n >= 10 {
		scale = float64(len(strconv.Itoa(n)) - 1) // ≈ log10(n), rounded down
	}
	base := time.Duration(float64(c.SuspicionMult) * scale * float64(c.ProbeInterval))
	return time.Duration(c.SuspicionMaxTimeoutMult)*base + 2*c.ProbeInterval
}

func (m *Membership) expireSuspicions(now time.Time) {
	var out []Event
	m.stateMu.Lock()
	for name, until := range m.suspect {
		if now.Before(until) {
			continue
		}
		delete(m.suspect, name)
		if mem, ok := m.members[name]; ok && mem.State == cluster.StateSuspect {
			mem.State, mem.Since = cluster.StateAlive, now
			out = append(out, Event{EventRecover, *mem})
		}
	}
	m.stateMu.Unlock()
	for _, e := range out {
		m.logEvent(e)
		m.publish(e)
	}
}

// forget drops members that have been dead or left for ForgetAfter.
func (m *Membership) forget(now time.Time) {
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	for name, mem := range m.members {
		if (mem.State == cluster.StateDead || mem.State == cluster.StateLeft) && now.Sub(mem.Since) > ForgetAfter {
			delete(m.members, name)
		}
	}
}

func (m *Membership) logEvent(e Event) {
	attrs := []any{"event", e.Kind.String(), "node", e.Member.Name, "addr", e.Member.Addr, "role", string(e.Member.Meta.Role)}
	switch e.Kind {
	case EventUpdate:
		m.logger.Debug("gossip: member updated", attrs...)
	case EventFail, EventSuspect:
		m.logger.Warn("gossip: member "+string(e.Member.State), attrs...)
	default:
		m.logger.Info("gossip: member "+string(e.Member.State), attrs...)
	}
}

func (m *Membership) publish(e Event) {
	m.subMu.Lock()
	defer m.subMu.Unlock()
	for _, ch := range m.subs {
		select {
		case ch <- e:
		default:
			m.logger.Warn("gossip: a subscriber is not keeping up; event dropped", "event", e.Kind.String(), "node", e.Member.Name)
		}
	}
}

// noteRefused logs, once per node and reason, a member refused because its
// metadata does not parse.
func (m *Membership) noteRefused(name, reason string) {
	m.refusedMu.Lock()
	defer m.refusedMu.Unlock()
	if m.refused[name] == reason {
		return
	}
	if len(m.refused) > 1000 {
		clear(m.refused)
	}
	m.refused[name] = reason
	m.logger.Warn("gossip: refused a node whose metadata this version does not understand", "node", name, "reason", reason)
}

func resolveIP(ctx context.Context, host string) (net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		if v4 := ip.To4(); v4 != nil {
			return v4, nil
		}
		return ip, nil
	}
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	for _, ip := range ips {
		if v4 := ip.To4(); v4 != nil {
			return v4, nil
		}
	}
	if len(ips) == 0 {
		return nil, errors.New("resolve: no address")
	}
	return ips[0], nil
}

// delegate serves this node's metadata to memberlist.
type delegate struct{ m *Membership }

func (d delegate) NodeMeta(limit int) []byte {
	d.m.metaMu.Lock()
	defer d.m.metaMu.Unlock()
	if len(d.m.metaBytes) > limit {
		return nil
	}
	return slices.Clone(d.m.metaBytes)
}
func (delegate) NotifyMsg([]byte)                           {}
func (delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (delegate) LocalState(join bool) []byte                { return nil }
func (delegate) MergeRemoteState(buf []byte, join bool)     {}

// eventDelegate copies memberlist's callbacks into the event queue.
type eventDelegate struct{ m *Membership }

func (d eventDelegate) NotifyJoin(n *memberlist.Node)   { d.m.enqueue(raw(rawJoin, n)) }
func (d eventDelegate) NotifyLeave(n *memberlist.Node)  { d.m.enqueue(raw(rawLeave, n)) }
func (d eventDelegate) NotifyUpdate(n *memberlist.Node) { d.m.enqueue(raw(rawUpdate, n)) }

// raw copies what we need from n: memberlist keeps mutating it.
func raw(k rawKind, n *memberlist.Node) rawEvent {
	return rawEvent{kind: k, name: n.Name, addr: n.Address(), meta: slices.Clone(n.Meta)}
}

// aliveDelegate refuses nodes whose metadata does not parse, so a node of
// an incompatible version (or not omflow at all) never becomes a peer.
type aliveDelegate struct{ m *Membership }

func (d aliveDelegate) NotifyAlive(n *memberlist.Node) error {
	if _, err := ParseMeta(n.Meta); err != nil {
		d.m.noteRefused(n.Name, err.Error())
		return err
	}
	return nil
}
