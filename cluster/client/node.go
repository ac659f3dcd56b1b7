package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/omflow/omflow/cluster"
	"github.com/omflow/omflow/cluster/gossip"
	"github.com/omflow/omflow/cluster/mux"
	"github.com/omflow/omflow/cluster/rpc"
	"github.com/omflow/omflow/cluster/rpcpb"
)

// loadMetaEvery is how often a changed load is put in the gossip metadata
// (for the status document; dispatch uses the stream's Load reports).
const loadMetaEvery = time.Second

// NodeConfig configures the cluster side of a server process.
type NodeConfig struct {
	Key []byte // decoded CLUSTER_KEY
	// Self is LOCAL_IP:LOCAL_PORT, this server's cluster port.
	Self     string
	Boosters []string // BOOSTER, SECOND_BOOSTER
	// Name is the gossip node name, unique in the cluster; the engine's
	// job leases must be named Name + "/...".
	Name     string
	Role     cluster.Role // RoleServer or RoleSlave
	Version  string
	HTTP     string // HTTP address host:port, for the status document
	Capacity int    // WORKERS
	Engine   Engine
	OnEvent  func(kind string, payload []byte, version int64)
	Logger   *slog.Logger
	// Client sets the client's timing (zero fields: defaults); the other
	// fields are filled in.
	Client     Config
	GossipTune func(*memberlist.Config)
}

// Node is a server's cluster membership and booster session.
type Node struct {
	cfg     NodeConfig
	log     *slog.Logger
	mux     *mux.Mux
	members *gossip.Membership
	rpc     *rpc.Server
	client  *Client

	detachOnce sync.Once
	stopOnce   sync.Once
	done       chan struct{}
	wg         sync.WaitGroup
}

// StartNode binds the cluster port, joins gossip and serves the Status RPC.
// It does not connect to a booster yet: call Connect once the engine runs.
// Binding Self proves that no other live process has this node's name.
func StartNode(ctx context.Context, cfg NodeConfig) (*Node, error) {
	if cfg.Role != cluster.RoleServer && cfg.Role != cluster.RoleSlave {
		return nil, fmt.Errorf("cluster node: role %q: want server or slave", cfg.Role)
	}
	host, _, err := net.SplitHostPort(cfg.Self)
	if err != nil || host == "" {
		return nil, fmt.Errorf("cluster node: address %q: want IP:PORT", cfg.Self)
	}
	if cfg.Engine == nil {
		return nil, errors.New("cluster node: Engine is required")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Self
	}
	n := &Node{cfg: cfg, log: logger, done: make(chan struct{})}

	cc := cfg.Client
	cc.Key, cc.Boosters, cc.Name, cc.Address, cc.HTTP, cc.Version = cfg.Key, cfg.Boosters, cfg.Name, cfg.Self, cfg.HTTP, cfg.Version
	cc.Capacity, cc.Engine, cc.OnEvent, cc.Logger = cfg.Capacity, cfg.Engine, cfg.OnEvent, logger
	if n.client, err = New(cc); err != nil {
		return nil, err
	}

	var rpcLn *mux.Listener
	n.mux, rpcLn, err = mux.StartWithRPC(ctx, mux.Config{Addr: cfg.Self, Logger: logger})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Node, error) {
		n.Stop()
		return nil, err
	}
	n.members, err = gossip.New(gossip.Config{
		Key: cfg.Key, AdvertiseIP: host, Mux: n.mux, Seeds: cfg.Boosters, Logger: logger, Tune: cfg.GossipTune,
		Meta: gossip.Meta{Role: cfg.Role, Name: cfg.Name, Version: cfg.Version, HTTP: cfg.HTTP},
	})
	if err != nil {
		return fail(err)
	}
	n.client.cfg.Members = n.members
	if n.rpc, err = rpc.NewServer(rpc.ServerConfig{Key: cfg.Key, Listener: rpcLn, Service: statusService{members: n.members}, Logger: logger}); err != nil {
		return fail(err)
	}
	if err := n.members.Start(ctx); err != nil {
		return fail(err)
	}
	if err := n.rpc.Start(ctx); err != nil {
		return fail(err)
	}
	n.wg.Add(1)
	go n.loadMeta()
	return n, nil
}

// Connect starts the booster session (and degraded mode when there is no
// booster).
func (n *Node) Connect(ctx context.Context) error { return n.client.Start(ctx) }

// Client is the booster session.
func (n *Node) Client() *Client { return n.client }

// Members is the gossip membership.
func (n *Node) Members() *gossip.Membership { return n.members }

// Name is the gossip node name.
func (n *Node) Name() string { return n.cfg.Name }

// Status is the cluster status document as this server sees it.
func (n *Node) Status() cluster.Status { return n.members.Status() }

// Detach closes the booster session: no more dispatches come here. Call it
// before stopping the engine.
func (n *Node) Detach() {
	n.detachOnce.Do(n.client.Stop)
}

// Stop detaches, leaves gossip (the others show the node "left") and
// closes the cluster port. Calling it twice is harmless.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		n.Detach()
		close(n.done)
		n.wg.Wait()
		if n.rpc != nil {
			n.rpc.Stop()
		}
		if n.members != nil {
			n.members.Stop()
		}
		n.mux.Stop()
	})
}

// loadMeta puts the engine's load in the gossip metadata when it changes.
func (n *Node) loadMeta() {
	defer n.wg.Done()
	t := time.NewTicker(loadMetaEvery)
	defer t.Stop()
	last := 0
	for {
		select {
		case <-n.done:
			return
		case <-t.C:
		}
		load := n.cfg.Engine.Load()
		if load == last {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := n.members.UpdateMeta(ctx, func(m *gossip.Meta) { m.Load = load })
		cancel()
		if err != nil {
			n.log.Debug("cluster: load metadata update not confirmed", "err", err)
		}
		last = load
	}
}

// statusService is the RPC service of a server's cluster port: Status
// only; Connect is for boosters.
type statusService struct {
	rpcpb.UnimplementedBoosterServer
	members *gossip.Membership
}

func (s statusService) Status(context.Context, *rpcpb.StatusRequest) (*rpcpb.StatusReply, error) {
	return rpc.StatusToProto(s.members.Status()), nil
}

func (statusService) Connect(rpcpb.Booster_ConnectServer) error {
	return status.Error(codes.FailedPrecondition, "this node is an OMFLOW server, not a booster: connect to BOOSTER or SECOND_BOOSTER")
}
