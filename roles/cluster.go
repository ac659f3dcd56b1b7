package roles

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/omflow/omflow/cli"
	"github.com/omflow/omflow/cluster"
	"github.com/omflow/omflow/cluster/booster"
	"github.com/omflow/omflow/cluster/client"
	"github.com/omflow/omflow/cluster/rpc"
	"github.com/omflow/omflow/cluster/rpcpb"
	"github.com/omflow/omflow/config"
	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/web"
	"github.com/omflow/omflow/web/ui"
)

// Cluster event kinds a server sends (the booster relays them to every
// other server) and understands; the booster's own "changed:<scope>"
// events come from the database's change counters.
const (
	eventFlows    = "flows"     // apps or flows changed here
	eventTask     = "task"      // a task was assigned (live inbox updates); payload: flow.TaskView
	eventTaskDone = "task-done" // a task was completed or cancelled; payload: flow.TaskView
)

// clusterEngineOptions sets up the engine of a server in cluster mode: it
// claims nothing by itself (the booster dispatches; degraded mode turns
// polling on), its job leases carry the node's gossip name, and its hooks
// talk to the booster. Called by setupEngineAndWeb before flow.New.
func (s *Server) clusterEngineOptions(o *flow.Options) {
	o.Poll = false
	o.Node = clusterNodeName(s.Cfg)
	o.Hooks.JobsCommitted = func(jobs []flow.JobRef) {
		c := s.clusterClient()
		if c == nil {
			return
		}
		refs := make([]client.ReadyJob, len(jobs))
		for i, j := range jobs {
			refs[i] = client.ReadyJob{ID: j.ID, RunAt: j.RunAt}
		}
		c.JobsReady(refs)
	}
	o.Hooks.JobDone = func(id int64, claimed bool) {
		if c := s.clusterClient(); c != nil {
			c.JobDone(id, claimed)
		}
	}
	// Task events reach the browsers connected to every server.
	o.Hooks.TaskAssigned = s.relayTask(eventTask, o.Hooks.TaskAssigned)
	o.Hooks.TaskClosed = s.relayTask(eventTaskDone, o.Hooks.TaskClosed)
	o.Hooks.FlowsChanged = func() {
		if c := s.clusterClient(); c != nil {
			c.Publish(eventFlows, nil, 0)
		}
	}
}

// relayTask wraps a task hook: run it here, then send the task to the
// booster, which relays it to every other server.
func (s *Server) relayTask(kind string, local func(flow.TaskView)) func(flow.TaskView) {
	return func(t flow.TaskView) {
		if local != nil {
			local(t)
		}
		if c := s.clusterClient(); c != nil {
			if b, err := json.Marshal(t); err == nil {
				c.Publish(kind, b, 0)
			}
		}
	}
}

// clusterWebOptions gives the web server the cluster status and the
// degraded flag.
func (s *Server) clusterWebOptions(o *web.Options) {
	o.ClusterStatus = func(context.Context) (any, error) {
		if s.Cluster == nil {
			return cluster.Status{Mode: "cluster", Members: []cluster.MemberStatus{}}, nil
		}
		return s.Cluster.Status(), nil
	}
	o.Degraded = func() bool {
		c := s.clusterClient()
		return c != nil && c.Degraded()
	}
}

// clusterUIOptions gives the pages the Cluster block and the degraded
// banner.
func (s *Server) clusterUIOptions(o *ui.Options) {
	o.Cluster = func(context.Context) (cluster.Status, error) {
		if s.Cluster == nil {
			return cluster.Status{Mode: "cluster", Members: []cluster.MemberStatus{}}, nil
		}
		return s.Cluster.Status(), nil
	}
	o.Degraded = func() bool {
		c := s.clusterClient()
		return c != nil && c.Degraded()
	}
}

func (s *Server) clusterClient() *client.Client {
	if s.Cluster == nil {
		return nil
	}
	return s.Cluster.Client()
}

// startClusterNode binds the cluster port and joins gossip, then hands back
// the jobs a previous process of this node left leased (binding the port
// proves no live process has this node's name). Call it before the engine
// starts.
func (s *Server) startClusterNode(ctx context.Context) error {
	key, err := s.Cfg.ClusterKeyBytes()
	if err != nil {
		return err
	}
	role := cluster.RoleServer
	if s.Cfg.Role == config.RoleSlave {
		role = cluster.RoleSlave
	}
	name := clusterNodeName(s.Cfg)
	node, err := client.StartNode(ctx, client.NodeConfig{
		Key: key, Self: s.Cfg.LocalAddr(), Boosters: s.Cfg.BoosterAddrs(), Name: name, Role: role,
		Version: cli.Version, HTTP: advertisedHTTP(s.Cfg), Capacity: s.Cfg.Workers, Engine: s.Engine,
		OnEvent: s.onClusterEvent, Logger: s.Log,
	})
	if err != nil {
		return err
	}
	s.Cluster = node
	if n, err := s.DB.ReleaseNodeJobs(ctx, name); err != nil {
		s.Log.Warn("could not hand back jobs left by this node's previous process; they run again when their leases expire", "err", err)
	} else if n > 0 {
		s.Log.Info("handed back jobs left by this node's previous process", "jobs", n)
	}
	return nil
}

// connectCluster starts the booster session; call it once the engine runs.
func (s *Server) connectCluster(ctx context.Context) error {
	if s.Cluster == nil {
		return nil
	}
	return s.Cluster.Connect(ctx)
}

// detachCluster stops dispatches to this server (before the engine stops).
func (s *Server) detachCluster() {
	if s.Cluster != nil {
		s.Cluster.Detach()
	}
}

// stopCluster leaves the cluster (after the engine handed its jobs back).
func (s *Server) stopCluster() {
	if s.Cluster != nil {
		s.Cluster.Stop()
	}
}

// onClusterEvent applies an event another server (or the booster) sent.
func (s *Server) onClusterEvent(kind string, payload []byte, _ int64) {
	switch {
	case kind == eventFlows || kind == booster.EventChangedPrefix+"flows":
		s.Engine.Invalidate()
	case kind == eventTask || kind == eventTaskDone:
		var t flow.TaskView
		if err := json.Unmarshal(payload, &t); err != nil {
			s.Log.Warn("cluster: unreadable task event ignored", "kind", kind, "err", err)
			return
		}
		if s.Broker == nil {
			return
		}
		if kind == eventTask {
			s.Broker.TaskAssigned(t)
		} else {
			s.Broker.TaskClosed(t)
		}
	case strings.HasPrefix(kind, booster.EventChangedPrefix):
		// Users, groups, roles or settings changed somewhere: identities
		// cached here may be stale.
		if s.Web != nil {
			s.Web.Auth().Forget()
		}
	}
}

// advertisedHTTP is the HTTP address other nodes and operators reach this
// server at: HTTP_IP, or LOCAL_IP when the web server listens on all
// addresses.
func advertisedHTTP(cfg config.Config) string {
	host := cfg.HTTPIP
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = cfg.LocalIP
	}
	return net.JoinHostPort(host, strconv.Itoa(cfg.HTTPPort))
}

// ClusterStatus prints, as indented JSON, the cluster status document of
// the node at addr (this node's LOCAL_IP:LOCAL_PORT, or BOOSTER, when
// empty), asked over the cluster port with CLUSTER_KEY.
func ClusterStatus(ctx context.Context, cfg config.Config, addr string, w io.Writer) error {
	key, err := cfg.ClusterKeyBytes()
	if err != nil {
		return err
	}
	if addr == "" {
		addr = cfg.LocalAddr()
		if cfg.LocalIP == "" {
			if bs := cfg.BoosterAddrs(); len(bs) > 0 {
				addr = bs[0]
			}
		}
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("--addr %q: want IP:PORT", addr)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	cl, err := rpc.Dial(addr, rpc.ClientConfig{Key: key, Logger: log})
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	reply, err := cl.Status(ctx, &rpcpb.StatusRequest{})
	if err != nil {
		return fmt.Errorf("cluster status from %s: %w", addr, err)
	}
	st, err := rpc.StatusFromProto(reply)
	if err != nil {
		return fmt.Errorf("cluster status from %s: %w", addr, err)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(st)
}
