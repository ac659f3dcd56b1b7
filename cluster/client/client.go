// Package client is a server's side of the booster: it keeps one Connect
// stream to the active booster (BOOSTER, SECOND_BOOSTER, following
// redirects), registers the server's capacity, reports its load, hands
// dispatched job ids to the local engine and reports them done, names new
// jobs to the booster and passes cluster events both ways. When no booster
// is reachable for DegradedAfter it turns the engine's own polling on
// (degraded mode) and off again when a booster welcomes it. Node runs the
// cluster side of a whole server process: cluster port, gossip, the Status
// RPC and this client.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/omflow/omflow/cluster"
	"github.com/omflow/omflow/cluster/gossip"
	"github.com/omflow/omflow/cluster/rpc"
	"github.com/omflow/omflow/cluster/rpcpb"
)

// Timing of the client. cluster/doc.go explains how they fit together.
const (
	// DefaultDegradedAfter is how long a server waits for a booster
	// before it claims jobs from the database itself.
	DefaultDegradedAfter = time.Second
	// DefaultConnectTimeout bounds one attempt: TCP, TLS, key proof,
	// Register and the booster's answer.
	DefaultConnectTimeout = time.Second
	// DefaultSilence: a stream that carried nothing (the booster sends a
	// heartbeat every 300 ms when idle) for this long is given up; a paused
	// booster is left this quickly even when gossip has not noticed yet.
	DefaultSilence = time.Second
	// DefaultLoadEvery is how often a changed load is reported when no job
	// result carries it.
	DefaultLoadEvery = 200 * time.Millisecond
	// DefaultRetryMin and DefaultRetryMax bound the pause between rounds of
	// attempts when no booster welcomed this server; gossip news of an
	// active booster cuts the pause short.
	DefaultRetryMin = 25 * time.Millisecond
	DefaultRetryMax = time.Second
	// heardWithin: a peer heard from this recently is alive whatever
	// gossip says (each side sends at least every 300 ms).
	heardWithin = 400 * time.Millisecond
	// keepaliveEvery: a server's stream carries a Load report at least this
	// often, so the booster can tell a live server from a dead one.
	keepaliveEvery = 300 * time.Millisecond
)

// Engine is the local flow engine as the client drives it.
type Engine interface {
	// Submit queues a dispatched job; false when the queue is full.
	Submit(id int64) bool
	// Load is the number of jobs running or queued.
	Load() int
	// SetPolling turns claiming due jobs from the database on or off.
	SetPolling(on bool)
	// Wake makes the engine's poller look for due jobs now.
	Wake()
}

// ReadyJob is a job the server just committed.
type ReadyJob struct {
	ID    int64
	RunAt time.Time // when it falls due (database clock)
}

// Membership is the part of gossip the client watches; *gossip.Membership
// implements it.
type Membership interface {
	Members() []gossip.Member
	Subscribe(buf int) (<-chan gossip.Event, func())
}

// Config configures a Client.
type Config struct {
	Key      []byte   // decoded CLUSTER_KEY
	Boosters []string // BOOSTER, SECOND_BOOSTER (IP:PORT), in the settings' order
	// Name, Address, HTTP and Version register the server. Name is its
	// gossip node name: the booster releases the jobs of a dead server by
	// it, so the engine's lease owner must start with Name + "/".
	Name, Address, HTTP, Version string
	Capacity                     int // jobs the server runs at once (WORKERS)
	Engine                       Engine
	// Members, when set, speeds things up: news of a new active booster
	// ends the wait between attempts, and a booster reported dead is left
	// at once.
	Members Membership
	// OnEvent receives the cluster events the booster relays. It must not
	// block for long.
	OnEvent func(kind string, payload []byte, version int64)
	Logger  *slog.Logger

	DegradedAfter, ConnectTimeout, Silence, LoadEvery, RetryMin, RetryMax time.Duration
}

// Client keeps the server's session with the active booster.
type Client struct {
	cfg    Config
	logger *slog.Logger

	clientsMu sync.Mutex
	clients   map[string]*rpc.Client

	stateMu   sync.Mutex
	booster   string // connected booster, "" when none
	epoch     int64
	lostAt    time.Time
	degraded  bool
	gen       uint64 // session generation; outbox items of older ones are dropped
	closeSess context.CancelFunc

	outMu    sync.Mutex
	outReady []*rpcpb.ReadyJob
	outDone  []*rpcpb.JobResult
	outEvent []*rpcpb.ClusterEvent
	outGen   uint64
	notify   chan struct{}

	kick chan struct{}

	degradedFlag atomic.Bool
	// lastSeen is when the current session last heard from its booster
	// (unix nanoseconds).
	lastSeen atomic.Int64

	lifeMu  sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New checks cfg and fills the defaults.
func New(cfg Config) (*Client, error) {
	switch {
	case len(cfg.Key) != cluster.KeySize:
		return nil, fmt.Errorf("cluster client: key is %d bytes, want %d", len(cfg.Key), cluster.KeySize)
	case len(cfg.Boosters) == 0:
		return nil, errors.New("cluster client: no booster address (BOOSTER_IP)")
	case cfg.Engine == nil:
		return nil, errors.New("cluster client: Engine is required")
	case cfg.Name == "" || cfg.Address == "":
		return nil, errors.New("cluster client: Name and Address are required")
	case cfg.Capacity < 1:
		return nil, fmt.Errorf("cluster client: capacity %d: must be 1 or more", cfg.Capacity)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.DegradedAfter, DefaultDegradedAfter)
	def(&cfg.ConnectTimeout, DefaultConnectTimeout)
	def(&cfg.Silence, DefaultSilence)
	def(&cfg.LoadEvery, DefaultLoadEvery)
	def(&cfg.RetryMin, DefaultRetryMin)
	def(&cfg.RetryMax, DefaultRetryMax)
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Client{
		cfg: cfg, logger: logger.With("component", "cluster-client"),
		clients: map[string]*rpc.Client{}, notify: make(chan struct{}, 1), kick: make(chan struct{}, 1),
	}, nil
}

// Start connects in the background. Until a booster welcomes the server
// (or for DegradedAfter after losing one) the engine's polling is left as
// it is; after that it is turned on (degraded mode).
func (c *Client) Start(ctx context.Context) error {
	c.lifeMu.Lock()
	defer c.lifeMu.Unlock()
	if c.started || c.stopped {
		return errors.New("cluster client: Start called twice or after Stop")
	}
	c.started = true
	ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.stateMu.Lock()
	c.lostAt = time.Now()
	c.stateMu.Unlock()
	c.wg.Add(2)
	go c.run(ctx)
	go c.watchDegraded(ctx)
	if c.cfg.Members != nil {
		events, unsubscribe := c.cfg.Members.Subscribe(128)
		c.wg.Add(1)
		go c.watchMembers(ctx, events, unsubscribe)
	}
	return nil
}

// Stop closes the session (the booster dispatches elsewhere) and waits for
// the client's goroutines. The engine's polling is left as it is. Calling
// Stop twice is harmless.
func (c *Client) Stop() {
	c.lifeMu.Lock()
	if c.stopped {
		c.lifeMu.Unlock()
		return
	}
	c.stopped = true
	started := c.started
	c.lifeMu.Unlock()
	if !started {
		return
	}
	c.cancel()
	c.wg.Wait()
	c.clientsMu.Lock()
	for _, cl := range c.clients {
		_ = cl.Close()
	}
	clear(c.clients)
	c.clientsMu.Unlock()
}

// Degraded reports whether the server claims jobs from the database itself
// because no booster is reachable.
func (c *Client) Degraded() bool { return c.degradedFlag.Load() }

// Booster returns the booster this server is connected to and its epoch.
func (c *Client) Booster() (addr string, epoch int64, ok bool) {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	return c.booster, c.epoch, c.booster != ""
}

// JobsReady is the engine's JobsCommitted hook: name the new jobs to the
// booster, or wake the local poller in degraded mode.
func (c *Client) JobsReady(jobs []ReadyJob) {
	if c.Degraded() {
		c.cfg.Engine.Wake()
		return
	}
	c.stateMu.Lock()
	gen, connected := c.gen, c.booster != ""
	c.stateMu.Unlock()
	if !connected {
		return // the next booster's sweep finds them, or degraded mode does
	}
	c.outMu.Lock()
	if c.outGen == gen {
		for _, j := range jobs {
			var ms int64
			if !j.RunAt.IsZero() {
				ms = j.RunAt.UnixMilli()
			}
			c.outReady = append(c.outReady, &rpcpb.ReadyJob{Id: j.ID, RunAtUnixMs: ms})
		}
	}
	c.outMu.Unlock()
	c.signal()
}

// JobDone is the engine's JobDone hook: the booster counts the job as no
// longer in flight here.
func (c *Client) JobDone(id int64, claimed bool) {
	c.queueResult(&rpcpb.JobResult{JobId: id, Ok: true, Claimed: claimed})
}

func (c *Client) queueResult(r *rpcpb.JobResult) {
	c.stateMu.Lock()
	gen := c.gen
	c.stateMu.Unlock()
	c.outMu.Lock()
	if c.outGen == gen {
		c.outDone = append(c.outDone, r)
	}
	c.outMu.Unlock()
	c.signal()
}

// Publish sends a cluster event for the booster to relay to every other
// server. Without a booster it is dropped: the servers' version checks
// catch up.
func (c *Client) Publish(kind string, payload []byte, version int64) {
	c.stateMu.Lock()
	gen, connected := c.gen, c.booster != ""
	c.stateMu.Unlock()
	if !connected {
		return
	}
	c.outMu.Lock()
	if c.outGen == gen {
		c.outEvent = append(c.outEvent, &rpcpb.ClusterEvent{Kind: kind, Payload: payload, Version: version})
	}
	c.outMu.Unlock()
	c.signal()
}

func (c *Client) signal() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *Client) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *Client) rpcClient(addr string) (*rpc.Client, error) {
	c.clientsMu.Lock()
	defer c.clientsMu.Unlock()
	if cl, ok := c.clients[addr]; ok {
		return cl, nil
	}
	if len(c.clients) >= 8 {
		// Only boosters are ever named; do not let redirects grow this.
		for a, cl := range c.clients {
			if !slices.Contains(c.cfg.Boosters, a) {
				_ = cl.Close()
				delete(c.clients, a)
			}
		}
	}
	cl, err := rpc.Dial(addr, rpc.ClientConfig{Key: c.cfg.Key, Logger: c.logger})
	if err != nil {
		return nil, err
	}
	c.clients[addr] = cl
	return cl, nil
}

// run connects, serves sessions and reconnects until ctx ends.
func (c *Client) run(ctx context.Context) {
	defer c.wg.Done()
	wait := c.cfg.RetryMin
	failures := 0
	var first string // a redirect target to try first
	for ctx.Err() == nil {
		s, err := c.connect(ctx, first)
		first = ""
		if s != nil {
			failures = 0
			wait = c.cfg.RetryMin
			first = c.serve(ctx, s)
			continue
		}
		failures++
		if ctx.Err() == nil && (failures == 1 || failures%60 == 0) {
			c.logger.Info("cluster: no active booster answered; retrying", "boosters", c.cfg.Boosters, "err", err, "attempts", failures)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-c.kick:
		}
		t.Stop()
		wait = min(2*wait, c.cfg.RetryMax)
	}
}

// candidates are the addresses to try: a gossip hint first, then the
// boosters in the settings' order, leaving out those gossip reports dead
// or gone (unless that leaves none).
func (c *Client) candidates(first string) []string {
	var out []string
	add := func(a string) {
		if a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	add(first)
	down := map[string]bool{}
	if c.cfg.Members != nil {
		var best gossip.Member
		for _, m := range c.cfg.Members.Members() {
			if m.Meta.Role != cluster.RoleBooster {
				continue
			}
			switch m.State {
			case cluster.StateDead, cluster.StateLeft:
				down[m.Addr] = true
			default:
				if m.Meta.Active && m.Meta.Epoch > best.Meta.Epoch {
					best = m
				}
			}
		}
		add(best.Addr)
	}
	for _, a := range c.cfg.Boosters {
		if !down[a] {
			add(a)
		}
	}
	if len(out) == 0 {
		out = append(out, c.cfg.Boosters...)
	}
	return out
}

// session is an open, welcomed stream.
type session struct {
	addr   string
	epoch  int64
	stream rpcpb.Booster_ConnectClient
	ctx    context.Context
	cancel context.CancelFunc
	// received counts the job ids received in Dispatch messages, each
	// added after the engine had it (or refused it), so a Load report
	// that reads it before the engine's load never undercounts.
	received atomic.Int64
}

type attemptResult struct {
	addr     string
	s        *session
	redirect string
	err      error
}

// connect tries the candidates at once and keeps the first that welcomes
// the server; if none does, it follows the redirects once.
func (c *Client) connect(ctx context.Context, first string) (*session, error) {
	tried := map[string]bool{}
	addrs := c.candidates(first)
	var errs []error
	for round := 0; round < 2 && len(addrs) > 0 && ctx.Err() == nil; round++ {
		results := make(chan attemptResult, len(addrs))
		for _, a := range addrs {
			tried[a] = true
			go func() { results <- c.attempt(ctx, a) }()
		}
		var next []string
		for i := range addrs {
			r := <-results
			switch {
			case r.s != nil:
				// The first welcome wins at once: an attempt at a paused
				// booster must not hold it up. Later answers are closed.
				go func(left int) {
					for range left {
						if r := <-results; r.s != nil {
							r.s.cancel()
						}
					}
				}(len(addrs) - i - 1)
				return r.s, nil
			case r.redirect != "" && !tried[r.redirect] && !slices.Contains(next, r.redirect):
				next = append(next, r.redirect)
			case r.err != nil:
				errs = append(errs, r.err)
			}
		}
		addrs = next
	}
	if len(errs) == 0 {
		return nil, errors.New("every booster answered that it is standby (an election is under way)")
	}
	return nil, errors.Join(errs...)
}

// attempt opens a stream to addr and registers, all within ConnectTimeout.
func (c *Client) attempt(ctx context.Context, addr string) attemptResult {
	cl, err := c.rpcClient(addr)
	if err != nil {
		return attemptResult{addr: addr, err: err}
	}
	sctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(c.cfg.ConnectTimeout, cancel)
	type recv struct {
		stream rpcpb.Booster_ConnectClient
		m      *rpcpb.BoosterMsg
		err    error
	}
	r := func() recv {
		stream, err := cl.Connect(sctx)
		if err != nil {
			return recv{err: fmt.Errorf("connect: %w", err)}
		}
		reg := &rpcpb.ServerMsg{Msg: &rpcpb.ServerMsg_Register{Register: &rpcpb.Register{
			Name: c.cfg.Name, Address: c.cfg.Address, HttpAddr: c.cfg.HTTP, Capacity: int32(c.cfg.Capacity), Version: c.cfg.Version,
		}}}
		if err := stream.Send(reg); err != nil {
			return recv{err: err}
		}
		m, err := stream.Recv()
		return recv{stream, m, err}
	}()
	if !timer.Stop() {
		cancel()
		return attemptResult{addr: addr, err: fmt.Errorf("booster %s: no answer within %v", addr, c.cfg.ConnectTimeout)}
	}
	if r.err == nil {
		r.err = rpc.ValidateBoosterMsg(r.m)
	}
	if r.err != nil {
		cancel()
		if status.Code(r.err) == codes.Unauthenticated {
			c.logger.Error("cluster: booster refused or failed the cluster key proof: check that CLUSTER_KEY is the same on every node", "booster", addr, "err", r.err)
		}
		return attemptResult{addr: addr, err: fmt.Errorf("booster %s: %w", addr, r.err)}
	}
	switch v := r.m.GetMsg().(type) {
	case *rpcpb.BoosterMsg_Welcome:
		return attemptResult{addr: addr, s: &session{addr: addr, epoch: v.Welcome.GetEpoch(), stream: r.stream, ctx: sctx, cancel: cancel}}
	case *rpcpb.BoosterMsg_Redirect:
		cancel()
		return attemptResult{addr: addr, redirect: v.Redirect.GetActive()}
	default:
		cancel()
		return attemptResult{addr: addr, err: fmt.Errorf("booster %s: first answer was %T, want welcome or redirect", addr, v)}
	}
}

// serve runs a welcomed session until it ends; it returns the address a
// Redirect named, if any.
func (c *Client) serve(ctx context.Context, s *session) string {
	defer s.cancel()
	c.stateMu.Lock()
	c.gen++
	gen := c.gen
	wasDegraded := c.degraded
	c.booster, c.epoch, c.degraded = s.addr, s.epoch, false
	c.closeSess = s.cancel
	if wasDegraded {
		// Under stateMu, so that it cannot cross watchDegraded's switch.
		c.cfg.Engine.SetPolling(false)
		c.degradedFlag.Store(false)
	}
	c.stateMu.Unlock()
	c.outMu.Lock()
	c.outGen = gen
	c.outReady, c.outDone, c.outEvent = nil, nil, nil
	c.outMu.Unlock()
	c.logger.Info(fmt.Sprintf("booster %s is active: dispatch resumed", s.addr), "booster", s.addr, "epoch", s.epoch, "was_degraded", wasDegraded)

	lastSeen := &c.lastSeen
	lastSeen.Store(time.Now().UnixNano())
	redirect := make(chan string, 1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer s.cancel()
		c.recvLoop(s, lastSeen, redirect)
	}()
	go func() {
		defer wg.Done()
		defer s.cancel()
		c.sendLoop(s)
	}()
	tick := time.NewTicker(c.cfg.Silence / 4)
	reason := ""
loop:
	for {
		select {
		case <-s.ctx.Done():
			break loop
		case now := <-tick.C:
			if now.Sub(time.Unix(0, lastSeen.Load())) > c.cfg.Silence {
				reason = fmt.Sprintf("nothing heard for %v", c.cfg.Silence)
				break loop
			}
		}
	}
	tick.Stop()
	s.cancel()
	wg.Wait()

	c.stateMu.Lock()
	c.booster, c.closeSess = "", nil
	c.lostAt = time.Now()
	c.stateMu.Unlock()
	var next string
	select {
	case next = <-redirect:
		if reason == "" {
			reason = "the booster is no longer active"
		}
	default:
	}
	if ctx.Err() == nil {
		if reason == "" {
			reason = "stream closed"
		}
		c.logger.Warn("cluster: lost the booster; reconnecting", "booster", s.addr, "epoch", s.epoch, "reason", reason)
	}
	return next
}

func (c *Client) recvLoop(s *session, lastSeen *atomic.Int64, redirect chan<- string) {
	for {
		m, err := s.stream.Recv()
		if err != nil {
			return
		}
		lastSeen.Store(time.Now().UnixNano())
		if err := rpc.ValidateBoosterMsg(m); err != nil {
			c.logger.Warn("cluster: invalid message from the booster; reconnecting", "booster", s.addr, "err", err)
			return
		}
		switch v := m.GetMsg().(type) {
		case *rpcpb.BoosterMsg_Dispatch:
			if v.Dispatch.GetEpoch() != s.epoch {
				c.logger.Warn("cluster: dispatch of another epoch ignored", "booster", s.addr, "epoch", v.Dispatch.GetEpoch(), "session_epoch", s.epoch)
				continue
			}
			for _, id := range v.Dispatch.GetJobIds() {
				if !c.cfg.Engine.Submit(id) {
					c.queueResult(&rpcpb.JobResult{JobId: id, Rejected: true, Error: "queue full"})
				}
				s.received.Add(1)
			}
		case *rpcpb.BoosterMsg_Event:
			if c.cfg.OnEvent != nil {
				c.cfg.OnEvent(v.Event.GetKind(), v.Event.GetPayload(), v.Event.GetVersion())
			}
		case *rpcpb.BoosterMsg_Redirect:
			redirect <- v.Redirect.GetActive()
			return
		case *rpcpb.BoosterMsg_Heartbeat, *rpcpb.BoosterMsg_Welcome:
		}
	}
}

func (c *Client) sendLoop(s *session) {
	tick := time.NewTicker(min(c.cfg.LoadEvery, keepaliveEvery/2))
	defer tick.Stop()
	lastLoad, lastReceived := -1, int64(-1)
	var lastSent time.Time
	send := func(m *rpcpb.ServerMsg) bool {
		if err := s.stream.Send(m); err != nil {
			return false
		}
		return true
	}
	for {
		c.outMu.Lock()
		ready, done, events := c.outReady, c.outDone, c.outEvent
		c.outReady, c.outDone, c.outEvent = nil, nil, nil
		c.outMu.Unlock()
		for len(done) > 0 {
			n := min(len(done), 10000)
			if !send(&rpcpb.ServerMsg{Msg: &rpcpb.ServerMsg_Done{Done: &rpcpb.JobsDone{Results: done[:n]}}}) {
				return
			}
			done = done[n:]
		}
		for len(ready) > 0 {
			n := min(len(ready), 10000)
			if !send(&rpcpb.ServerMsg{Msg: &rpcpb.ServerMsg_Ready{Ready: &rpcpb.JobsReady{Count: int32(n), Jobs: ready[:n]}}}) {
				return
			}
			ready = ready[n:]
		}
		for _, ev := range events {
			if !send(&rpcpb.ServerMsg{Msg: &rpcpb.ServerMsg_Event{Event: ev}}) {
				return
			}
		}
		// received first: a job that arrives in between is then counted
		// twice for a moment, never missed.
		if received, load := s.received.Load(), c.cfg.Engine.Load(); load != lastLoad || received != lastReceived || time.Since(lastSent) >= keepaliveEvery {
			if !send(&rpcpb.ServerMsg{Msg: &rpcpb.ServerMsg_Load{Load: &rpcpb.Load{Running: int32(load), Received: received}}}) {
				return
			}
			lastLoad, lastReceived, lastSent = load, received, time.Now()
		}
		select {
		case <-s.ctx.Done():
			return
		case <-c.notify:
		case <-tick.C:
		}
	}
}

// watchDegraded turns degraded mode on when no booster welcomed the server
// for DegradedAfter.
func (c *Client) watchDegraded(ctx context.Context) {
	defer c.wg.Done()
	t := time.NewTicker(max(c.cfg.DegradedAfter/10, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.stateMu.Lock()
		enter := c.booster == "" && !c.degraded && time.Since(c.lostAt) >= c.cfg.DegradedAfter
		if enter {
			c.degraded = true
			c.degradedFlag.Store(true)
			c.cfg.Engine.SetPolling(true)
		}
		c.stateMu.Unlock()
		if enter {
			c.logger.Warn("no booster reachable: claiming jobs from the database (degraded mode)", "boosters", c.cfg.Boosters, "after", c.cfg.DegradedAfter)
		}
	}
}

// watchMembers follows gossip: a booster that announces a newer term ends
// the wait (or a stale session); the connected booster reported dead or
// gone ends the session at once.
func (c *Client) watchMembers(ctx context.Context, events <-chan gossip.Event, unsubscribe func()) {
	defer c.wg.Done()
	defer unsubscribe()
	for {
		var ev gossip.Event
		var ok bool
		select {
		case <-ctx.Done():
			return
		case ev, ok = <-events:
			if !ok {
				return
			}
		}
		m := ev.Member
		if m.Meta.Role != cluster.RoleBooster {
			continue
		}
		c.stateMu.Lock()
		cur, epoch, closeSess := c.booster, c.epoch, c.closeSess
		c.stateMu.Unlock()
		gone := ev.Kind == gossip.EventFail || ev.Kind == gossip.EventLeave
		// Gossip can declare a busy node dead by mistake (its probes time
		// out under load); a booster heard from moments ago is alive.
		heard := time.Since(time.Unix(0, c.lastSeen.Load())) < heardWithin
		switch {
		case gone && cur != "" && m.Addr == cur && (ev.Kind == gossip.EventLeave || !heard):
			c.logger.Info("cluster: gossip reports the connected booster gone", "booster", cur, "state", string(m.State))
			if closeSess != nil {
				closeSess()
			}
		case !gone && m.Meta.Active && m.Meta.Epoch > epoch && m.Addr != cur:
			if cl, err := c.rpcClient(m.Addr); err == nil {
				cl.ResetBackoff()
			}
			if cur != "" && closeSess != nil {
				c.logger.Info("cluster: a newer booster term is announced; moving to it", "booster", m.Addr, "epoch", m.Meta.Epoch, "from", cur)
				closeSess()
			}
			c.poke()
		case !gone && (ev.Kind == gossip.EventJoin || ev.Kind == gossip.EventRecover) && cur == "":
			if cl, err := c.rpcClient(m.Addr); err == nil {
				cl.ResetBackoff()
			}
			c.poke()
		}
	}
}
