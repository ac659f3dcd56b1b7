// Package booster is the active booster's work: it serves the servers'
// Connect streams (a standby redirects them to the active booster),
// dispatches ready jobs to the least-loaded servers without going beyond
// any server's capacity, sweeps the jobs table (due timers, expired leases,
// jobs of servers gossip reports dead, released under the lease fence) and
// relays cluster events to every server. Node runs a whole booster process:
// cluster port, gossip, RPC, election and this dispatcher.
//
// The booster moves job ids and events; it never looks inside a job.
package booster

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/omflow/omflow/cluster"
	"github.com/omflow/omflow/cluster/elect"
	"github.com/omflow/omflow/cluster/gossip"
	"github.com/omflow/omflow/cluster/rpc"
	"github.com/omflow/omflow/cluster/rpcpb"
	"github.com/omflow/omflow/store"
)

// Timing of the dispatcher. cluster/doc.go explains how they fit together.
const (
	// DefaultRedispatchAfter is how long a dispatched job may stay
	// unclaimed before a sweep dispatches it again (to any server). A
	// server claims a dispatched job within milliseconds; a second dispatch
	// of the same job is harmless (one claim wins), only wasted work.
	DefaultRedispatchAfter = 2 * time.Second
	// DefaultSweepEvery is the safety-net scan of the jobs table. Servers
	// name their new jobs to the booster (JobsReady) and timers and lease
	// expiries set a timer, so the sweep rarely finds anything.
	DefaultSweepEvery = time.Second
	// DefaultHeartbeatEvery is how often an idle stream carries a
	// Heartbeat; servers drop a stream silent for client.DefaultSilence.
	DefaultHeartbeatEvery = 300 * time.Millisecond
	// DefaultVersionsEvery is how often the active booster reads the change
	// counters (settings, users, groups, flows, licence) and tells every
	// server about a change.
	DefaultVersionsEvery = 500 * time.Millisecond
	// maxPending bounds the jobs the booster remembers as ready; beyond it
	// the sweep finds them in the database later.
	maxPending = 100000
	// maxScan bounds one sweep.
	maxScan = 5000
	// sessionBuffer is each stream's outgoing queue; a server that lets it
	// fill up is disconnected (it reconnects and the sweep resends).
	sessionBuffer = 4096
)

// Store is what the booster reads and writes in the database; *store.DB
// implements it. The only write, ReleaseNodeJobsFenced, is fenced by the
// lease.
type Store interface {
	DueJobIDs(ctx context.Context, limit int) ([]int64, error)
	NextDueAt(ctx context.Context) (time.Time, error)
	ReleaseNodeJobsFenced(ctx context.Context, f store.Fence, node string) (int64, error)
	Versions(ctx context.Context) (map[string]int64, error)
	Now() time.Time
}

// Membership is the part of gossip the booster uses; *gossip.Membership
// implements it.
type Membership interface {
	Status() cluster.Status
	Members() []gossip.Member
}

// Config configures a Booster.
type Config struct {
	// Self is this booster's cluster address (LOCAL_IP:LOCAL_PORT), its
	// lease holder name.
	Self  string
	Store Store
	// Lease tells a standby who is active, for Redirect.
	Lease elect.LeaseStore
	// LeaseName is the lease the fence names (store.BoosterLeaseName when
	// empty).
	LeaseName string
	// Members is the gossip view: the status document, dead members. May
	// be nil (tests): then no member is ever reported dead by gossip.
	Members Membership
	Metrics *Metrics // nil: not measured
	Logger  *slog.Logger
	// Handover is called when the active booster, stopping, tells this
	// one it has resigned (Node pokes the election).
	Handover func(from string, epoch int64)

	RedispatchAfter time.Duration
	SweepEvery      time.Duration
	HeartbeatEvery  time.Duration
	VersionsEvery   time.Duration
}

// Booster serves the Connect streams and, while it is active, dispatches.
type Booster struct {
	rpcpb.UnimplementedBoosterServer
	cfg    Config
	logger *slog.Logger
	m      *Metrics

	mu  sync.Mutex
	cur *dispatcher // nil while standby

	nextSession atomic.Uint64
}

// New checks cfg and fills the defaults.
func New(cfg Config) (*Booster, error) {
	if cfg.Self == "" || cfg.Store == nil || cfg.Lease == nil {
		return nil, errors.New("booster: Self, Store and Lease are required")
	}
	if cfg.LeaseName == "" {
		cfg.LeaseName = store.BoosterLeaseName
	}
	if cfg.RedispatchAfter <= 0 {
		cfg.RedispatchAfter = DefaultRedispatchAfter
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = DefaultSweepEvery
	}
	if cfg.HeartbeatEvery <= 0 {
		cfg.HeartbeatEvery = DefaultHeartbeatEvery
	}
	if cfg.VersionsEvery <= 0 {
		cfg.VersionsEvery = DefaultVersionsEvery
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	m := cfg.Metrics
	if m == nil {
		m = newUnregisteredMetrics()
	}
	return &Booster{cfg: cfg, logger: logger.With("component", "booster"), m: m}, nil
}

// Lead runs the active booster's work for term t until ctx ends: it is the
// elector's Lead function. When it returns, every server stream has been
// told to go elsewhere.
func (b *Booster) Lead(ctx context.Context, t elect.Term) {
	d := newDispatcher(b, t)
	b.mu.Lock()
	b.cur = d
	b.mu.Unlock()
	b.m.active.Set(1)
	b.m.epoch.Set(float64(t.Epoch))
	d.run(ctx)
	b.mu.Lock()
	b.cur = nil
	b.mu.Unlock()
	b.m.active.Set(0)
}

// Active returns the epoch this booster dispatches under, if it is active.
func (b *Booster) Active() (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur == nil {
		return 0, false
	}
	return b.cur.term.Epoch, true
}

func (b *Booster) current() *dispatcher {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}

// MemberDown tells the active booster that gossip reports node (a server)
// dead or gone: its stream is dropped and its leased jobs are released at
// once, under the fence, and dispatched again. A standby ignores it.
func (b *Booster) MemberDown(node string) {
	if d := b.current(); d != nil {
		d.post(memberDown{name: node})
	}
}

// Status answers the Status RPC with the gossip view.
func (b *Booster) Status(ctx context.Context, _ *rpcpb.StatusRequest) (*rpcpb.StatusReply, error) {
	if b.cfg.Members == nil {
		return nil, status.Error(codes.Unavailable, "booster: no membership")
	}
	return rpc.StatusToProto(b.cfg.Members.Status()), nil
}

// Handover answers a stopping active booster that has resigned its term.
func (b *Booster) Handover(ctx context.Context, r *rpcpb.HandoverRequest) (*rpcpb.HandoverReply, error) {
	if err := rpc.ValidateHandover(r); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if b.cfg.Handover != nil {
		b.cfg.Handover(r.GetFrom(), r.GetEpoch())
	}
	return &rpcpb.HandoverReply{}, nil
}

// activeHint names the active booster for a Redirect: the lease holder if
// the lease is live by the database clock, else what gossip says; "" when
// an election is under way.
func (b *Booster) activeHint(ctx context.Context) (string, int64) {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if holder, epoch, left, err := b.cfg.Lease.Current(ctx); err == nil && holder != "" && left > 0 && holder != b.cfg.Self {
		return holder, epoch
	}
	if b.cfg.Members != nil {
		st := b.cfg.Members.Status()
		if st.ActiveBooster != "" && st.ActiveBooster != b.cfg.Self {
			return st.ActiveBooster, st.Epoch
		}
	}
	return "", 0
}

func redirectMsg(active string, epoch int64, reason string) *rpcpb.BoosterMsg {
	return &rpcpb.BoosterMsg{Msg: &rpcpb.BoosterMsg_Redirect{Redirect: &rpcpb.Redirect{Active: active, Epoch: epoch, Reason: reason}}}
}

// Connect is a server's session. An active booster welcomes it and
// dispatches to it; a standby redirects it to the active booster.
func (b *Booster) Connect(stream rpcpb.Booster_ConnectServer) error {
	ctx := stream.Context()
	reg, err := rpc.RecvRegister(ctx, stream)
	if err != nil {
		b.logger.Warn("booster: refused a server stream", "err", err)
		return err
	}
	d := b.current()
	s := &session{
		id: b.nextSession.Add(1), name: reg.GetName(), addr: reg.GetAddress(), http: reg.GetHttpAddr(),
		version: reg.GetVersion(), capacity: int(reg.GetCapacity()),
		out: make(chan *rpcpb.BoosterMsg, sessionBuffer), ended: make(chan string, 1),
		assigned: map[int64]struct{}{},
	}
	s.lastRecv.Store(time.Now().UnixNano())
	if d == nil || !d.open(s) {
		active, epoch := b.activeHint(ctx)
		b.logger.Debug("booster: standby redirects a server", "server", s.name, "active", active)
		return stream.Send(redirectMsg(active, epoch, "this booster is standby"))
	}
	epoch := d.term.Epoch
	if err := stream.Send(&rpcpb.BoosterMsg{Msg: &rpcpb.BoosterMsg_Welcome{Welcome: &rpcpb.Welcome{Booster: b.cfg.Self, Epoch: epoch}}}); err != nil {
		d.post(sessionClosed{s: s})
		return err
	}
	b.logger.Info("booster: server connected", "server", s.name, "address", s.addr, "capacity", s.capacity, "epoch", epoch)

	recvDone := make(chan error, 1)
	go func() { recvDone <- b.recvLoop(stream, d, s) }()

	hb := time.NewTicker(b.cfg.HeartbeatEvery)
	defer hb.Stop()
	sent := time.Now()
	for {
		select {
		case m := <-s.out:
			if err := stream.Send(m); err != nil {
				d.post(sessionClosed{s: s})
				return err
			}
			sent = time.Now()
		case now := <-hb.C:
			if now.Sub(sent) < b.cfg.HeartbeatEvery/2 {
				continue
			}
			if err := stream.Send(&rpcpb.BoosterMsg{Msg: &rpcpb.BoosterMsg_Heartbeat{Heartbeat: &rpcpb.Heartbeat{Epoch: epoch}}}); err != nil {
				d.post(sessionClosed{s: s})
				return err
			}
			sent = now
		case reason := <-s.ended:
			// The dispatcher ended this session: the term is over, the
			// server is reported dead, or a newer stream replaced it.
			if reason == reasonTermOver {
				active, aepoch := b.activeHint(context.WithoutCancel(ctx))
				_ = stream.Send(redirectMsg(active, aepoch, reason))
			}
			return nil
		case err := <-recvDone:
			d.post(sessionClosed{s: s})
			if err != nil && status.Code(err) != codes.Canceled {
				b.logger.Info("booster: server stream ended", "server", s.name, "err", err)
			} else {
				b.logger.Info("booster: server disconnected", "server", s.name)
			}
			return nil
		case <-ctx.Done():
			d.post(sessionClosed{s: s})
			return nil
		}
	}
}

// recvLoop passes a session's messages to the dispatcher.
func (b *Booster) recvLoop(stream rpcpb.Booster_ConnectServer, d *dispatcher, s *session) error {
	for {
		m, err := stream.Recv()
		if err != nil {
			return err
		}
		s.lastRecv.Store(time.Now().UnixNano())
		if err := rpc.ValidateServerMsg(m); err != nil {
			b.logger.Warn("booster: invalid message from a server; stream closed", "server", s.name, "err", err)
			return status.Error(codes.InvalidArgument, err.Error())
		}
		switch v := m.GetMsg().(type) {
		case *rpcpb.ServerMsg_Load:
			d.post(loadMsg{s: s, running: int(v.Load.GetRunning()), capacity: int(v.Load.GetCapacity()), received: v.Load.GetReceived()})
		case *rpcpb.ServerMsg_Done:
			d.post(doneMsg{s: s, results: v.Done.GetResults()})
		case *rpcpb.ServerMsg_Ready:
			d.post(readyMsg{s: s, count: int(v.Ready.GetCount()), jobs: v.Ready.GetJobs(), at: time.Now()})
		case *rpcpb.ServerMsg_Event:
			d.post(eventMsg{from: s, ev: v.Event})
		}
	}
}
