package booster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/omflow/omflow/cluster"
	"github.com/omflow/omflow/cluster/elect"
	"github.com/omflow/omflow/cluster/gossip"
	"github.com/omflow/omflow/cluster/mux"
	"github.com/omflow/omflow/cluster/rpc"
	"github.com/omflow/omflow/cluster/rpcpb"
)

// standbyEpochEvery is how often a standby reads the lease and announces
// the epoch it sees in its gossip metadata: the proof that it reaches the
// database, which the active non-preferred booster waits for before it
// hands the lease back to the preferred one.
const standbyEpochEvery = time.Second

// NodeConfig configures a booster process.
type NodeConfig struct {
	Key []byte // decoded CLUSTER_KEY
	// Self is LOCAL_IP:LOCAL_PORT: the cluster port this booster listens
	// on and its lease holder name. It must be one of Boosters.
	Self string
	// Boosters are BOOSTER and SECOND_BOOSTER, in the settings' order; the
	// first is preferred.
	Boosters []string
	// Name is the gossip node name (Self when empty).
	Name    string
	Version string
	// HTTP is the booster's status address (BOOSTER_HTTP_PORT) as others
	// reach it, "" when it serves none; members show it.
	HTTP  string
	Store Store
	Lease elect.LeaseStore
	// Registry receives the booster's metrics (none when nil).
	Registry prometheus.Registerer
	Logger   *slog.Logger

	// Dispatch sets the dispatcher's timing (zero fields: defaults); its
	// Self, Store, Lease, Members, Metrics and Logger are filled in.
	Dispatch Config
	// Elect sets the election's timing (zero fields: defaults); its
	// Holder, Store, Preferred, PreferredReady, Lead and Logger are filled
	// in.
	Elect elect.Config
	// GossipTune adjusts memberlist (tests).
	GossipTune func(*memberlist.Config)
}

// Node is a running booster: cluster port, gossip, RPC, election, dispatch.
type Node struct {
	cfg     NodeConfig
	log     *slog.Logger
	order   int
	mux     *mux.Mux
	members *gossip.Membership
	rpc     *rpc.Server
	booster *Booster
	elector *elect.Elector
	metrics *Metrics
	peer    *rpc.Client // the other booster, for the handover call

	metaMu     sync.Mutex
	wantActive bool
	wantEpoch  int64
	metaKick   chan struct{}

	stopOnce sync.Once
	done     chan struct{}
	wg       sync.WaitGroup
}

// StartNode starts a booster: it listens on Self, joins gossip, serves the
// RPC and campaigns for the lease. It returns once the port is bound.
func StartNode(ctx context.Context, cfg NodeConfig) (*Node, error) {
	idx := slices.Index(cfg.Boosters, cfg.Self)
	if idx < 0 || idx > 1 {
		return nil, fmt.Errorf("booster: this booster's address %s is neither BOOSTER nor SECOND_BOOSTER (%v)", cfg.Self, cfg.Boosters)
	}
	if cfg.Store == nil || cfg.Lease == nil {
		return nil, errors.New("booster: Store and Lease are required")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Self
	}
	n := &Node{cfg: cfg, log: logger, order: idx + 1, metaKick: make(chan struct{}, 1), done: make(chan struct{})}
	host, _, err := splitHost(cfg.Self)
	if err != nil {
		return nil, err
	}

	var rpcLn *mux.Listener
	n.mux, rpcLn, err = mux.StartWithRPC(ctx, mux.Config{Addr: cfg.Self, Logger: logger})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Node, error) {
		n.shutdown()
		return nil, err
	}

	n.members, err = gossip.New(gossip.Config{
		Key: cfg.Key, AdvertiseIP: host, Mux: n.mux, Seeds: cfg.Boosters, Logger: logger, Tune: cfg.GossipTune,
		Meta: gossip.Meta{Role: cluster.RoleBooster, Name: cfg.Name, Version: cfg.Version, HTTP: cfg.HTTP, BoosterOrder: n.order},
	})
	if err != nil {
		return fail(err)
	}

	n.metrics = newUnregisteredMetrics()
	if cfg.Registry != nil {
		if n.metrics, err = NewMetrics(cfg.Registry, cluster.RoleBooster, n.order, cfg.Version, n.members); err != nil {
			return fail(err)
		}
	}

	dc := cfg.Dispatch
	dc.Self, dc.Store, dc.Lease, dc.Members, dc.Metrics, dc.Logger = cfg.Self, cfg.Store, cfg.Lease, n.members, n.metrics, logger
	dc.Handover = func(from string, epoch int64) {
		logger.Info("booster: the active booster resigned for a handover; electing now", "from", from, "epoch", epoch)
		n.elector.Poke()
	}
	if n.booster, err = New(dc); err != nil {
		return fail(err)
	}
	if n.rpc, err = rpc.NewServer(rpc.ServerConfig{Key: cfg.Key, Listener: rpcLn, Service: n.booster, Logger: logger}); err != nil {
		return fail(err)
	}

	ec := cfg.Elect
	ec.Holder, ec.Store, ec.Preferred, ec.Logger = cfg.Self, cfg.Lease, n.order == 1, logger
	ec.PreferredReady = n.preferredReady
	ec.Lead = n.lead
	if ec.Signals == nil {
		ec.Signals = &elect.Signals{Renewed: make(chan bool, 64)}
	}
	renewed := ec.Signals.Renewed
	if n.elector, err = elect.New(ec); err != nil {
		return fail(err)
	}

	if err := n.members.Start(ctx); err != nil {
		return fail(err)
	}
	if err := n.rpc.Start(ctx); err != nil {
		return fail(err)
	}
	events, unsubscribe := n.members.Subscribe(256)
	n.wg.Add(2)
	go n.watchMembers(events, unsubscribe)
	go n.metaLoop()
	if renewed != nil && cfg.Elect.Signals == nil {
		n.wg.Add(1)
		go n.countRenewals(renewed)
	}
	if err := n.elector.Start(context.WithoutCancel(ctx)); err != nil {
		return fail(err)
	}
	if len(cfg.Boosters) == 2 {
		peer := cfg.Boosters[2-n.order] // the other one
		if n.peer, err = rpc.Dial(peer, rpc.ClientConfig{Key: cfg.Key, Logger: logger}); err != nil {
			return fail(err)
		}
		n.peer.Warm()
	}
	logger.Info("booster started", "address", cfg.Self, "order", n.order, "preferred", n.order == 1, "cluster_id", n.members.ClusterID())
	return n, nil
}

// Booster is the dispatcher and RPC service.
func (n *Node) Booster() *Booster { return n.booster }

// Members is this booster's gossip membership.
func (n *Node) Members() *gossip.Membership { return n.members }

// Metrics are the booster's metrics.
func (n *Node) Metrics() *Metrics { return n.metrics }

// Addr is the cluster address.
func (n *Node) Addr() string { return n.cfg.Self }

// Active returns the epoch of the term this booster holds, if active.
func (n *Node) Active() (int64, bool) {
	if n.elector == nil {
		return 0, false
	}
	t, ok := n.elector.Term()
	return t.Epoch, ok
}

// Status is the cluster status as this booster's gossip sees it.
func (n *Node) Status() cluster.Status { return n.members.Status() }

// Stop hands the lease over at once if active (dispatch stops, servers are
// redirected, the term is resigned), then leaves gossip and closes the
// port. Calling it twice is harmless.
func (n *Node) Stop() {
	n.stopOnce.Do(n.shutdown)
}

func (n *Node) shutdown() {
	var handover chan struct{}
	if n.elector != nil {
		if n.peer != nil {
			n.peer.Warm()
		}
		t, wasActive := n.elector.Term()
		n.elector.Stop() // Lead ends, servers are redirected, the term is resigned
		if wasActive && n.peer != nil {
			// Tell the standby at once; gossip's leave would tell it a
			// gossip round later.
			handover = make(chan struct{})
			go func() {
				defer close(handover)
				ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
				defer cancel()
				if _, err := n.peer.Handover(ctx, &rpcpb.HandoverRequest{From: n.cfg.Self, Epoch: t.Epoch}); err != nil {
					n.log.Info("booster: the standby did not take the handover call; it follows gossip", "err", err)
				}
			}()
		}
	}
	close(n.done)
	// Leave gossip before the RPC server drains its streams: a standby
	// the handover call missed is poked by the leave.
	if n.members != nil {
		n.members.Stop()
	}
	if handover != nil {
		<-handover
	}
	if n.peer != nil {
		_ = n.peer.Close()
	}
	if n.rpc != nil {
		n.rpc.Stop()
	}
	n.wg.Wait()
	n.mux.Stop()
}

// lead is the elector's Lead: announce, dispatch until the term ends,
// announce the end.
func (n *Node) lead(ctx context.Context, t elect.Term) {
	n.log.Info("became active booster", "epoch", t.Epoch, "address", n.cfg.Self)
	n.metrics.BecameActive()
	n.setWantMeta(true, t.Epoch)
	n.booster.Lead(ctx, t)
	n.setWantMeta(false, t.Epoch)
	n.log.Warn("lost active booster role", "epoch", t.Epoch, "address", n.cfg.Self)
}

func (n *Node) setWantMeta(active bool, epoch int64) {
	n.metaMu.Lock()
	n.wantActive, n.wantEpoch = active, epoch
	n.metaMu.Unlock()
	select {
	case n.metaKick <- struct{}{}:
	default:
	}
}

// metaLoop keeps the gossip metadata in step with the term: active and
// epoch while active; while standby, the epoch of the lease as last read
// from the database (0 when the database does not answer).
func (n *Node) metaLoop() {
	defer n.wg.Done()
	tick := time.NewTicker(standbyEpochEvery)
	defer tick.Stop()
	var appliedActive bool
	var appliedEpoch int64
	for {
		select {
		case <-n.done:
			return
		case <-n.metaKick:
		case <-tick.C:
			if _, active := n.Active(); !active {
				ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
				_, epoch, _, err := n.cfg.Lease.Current(ctx)
				cancel()
				if err != nil {
					epoch = 0
				}
				n.metaMu.Lock()
				if !n.wantActive {
					n.wantEpoch = epoch
				}
				n.metaMu.Unlock()
			}
		}
		n.metaMu.Lock()
		active, epoch := n.wantActive, n.wantEpoch
		n.metaMu.Unlock()
		if active == appliedActive && epoch == appliedEpoch {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := n.members.UpdateMeta(ctx, func(m *gossip.Meta) { m.Active, m.Epoch = active, epoch })
		cancel()
		if err != nil {
			n.log.Debug("booster: gossip metadata update not confirmed", "err", err)
		}
		appliedActive, appliedEpoch = active, epoch
	}
}

// watchMembers pokes the election when the active booster may be gone and
// tells the dispatcher about dead servers.
func (n *Node) watchMembers(events <-chan gossip.Event, unsubscribe func()) {
	defer n.wg.Done()
	defer unsubscribe()
	for {
		select {
		case <-n.done:
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			m := ev.Member
			switch m.Meta.Role {
			case cluster.RoleBooster:
				if m.Name == n.cfg.Name {
					continue
				}
				switch ev.Kind {
				case gossip.EventFail, gossip.EventLeave, gossip.EventSuspect:
					n.elector.Poke()
				case gossip.EventUpdate, gossip.EventJoin:
					if !m.Meta.Active || m.Meta.Leaving {
						n.elector.Poke()
					}
				}
			case cluster.RoleServer, cluster.RoleSlave:
				if ev.Kind == gossip.EventFail || ev.Kind == gossip.EventLeave {
					n.booster.MemberDown(m.Name)
				}
			}
		}
	}
}

// preferredReady: the preferred booster is alive, a standby, not leaving,
// and announces the epoch of our term (so it reads the lease: it reaches
// the database).
func (n *Node) preferredReady() bool {
	t, ok := n.elector.Term()
	if !ok {
		return false
	}
	for _, m := range n.members.Members() {
		if m.Meta.Role == cluster.RoleBooster && m.Meta.BoosterOrder == 1 && m.Name != n.cfg.Name &&
			m.State == cluster.StateAlive && !m.Meta.Active && !m.Meta.Leaving && m.Meta.Epoch == t.Epoch {
			return true
		}
	}
	return false
}

func (n *Node) countRenewals(ch <-chan bool) {
	defer n.wg.Done()
	for {
		select {
		case <-n.done:
			return
		case ok := <-ch:
			n.metrics.Renewed(ok)
		}
	}
}

func splitHost(addr string) (host, port string, err error) {
	host, port, err = net.SplitHostPort(addr)
	if err != nil || host == "" {
		return "", "", fmt.Errorf("booster: cluster address %q: want IP:PORT", addr)
	}
	return host, port, nil
}
