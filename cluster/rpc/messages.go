package rpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
	"unicode"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/omflow/omflow/cluster"
	"github.com/omflow/omflow/cluster/rpcpb"
)

// Limits on incoming messages.
const (
	maxNameLen     = 128
	maxCapacity    = 100000
	maxJobsPerMsg  = 10000
	maxErrorLen    = 4096
	maxEventKind   = 64
	maxEventBytes  = 1 << 20
	maxVersionText = 64
)

// ValidateRegister checks a Register message; errors name the field.
func ValidateRegister(r *rpcpb.Register) error {
	if r == nil {
		return errors.New("register: missing")
	}
	if err := checkName("register.name", r.GetName(), true); err != nil {
		return err
	}
	if err := checkHostPort("register.address", r.GetAddress(), true); err != nil {
		return err
	}
	if err := checkHostPort("register.http_addr", r.GetHttpAddr(), false); err != nil {
		return err
	}
	if c := r.GetCapacity(); c < 1 || c > maxCapacity {
		return fmt.Errorf("register.capacity %d: must be 1-%d", c, maxCapacity)
	}
	return checkName("register.version", r.GetVersion(), false)
}

// ValidateServerMsg checks any message a server sends after Register.
func ValidateServerMsg(m *rpcpb.ServerMsg) error {
	switch v := m.GetMsg().(type) {
	case *rpcpb.ServerMsg_Register:
		return errors.New("register: sent twice on one stream")
	case *rpcpb.ServerMsg_Load:
		if v.Load.GetRunning() < 0 {
			return fmt.Errorf("load.running %d: must not be negative", v.Load.GetRunning())
		}
		if v.Load.GetReceived() < 0 {
			return fmt.Errorf("load.received %d: must not be negative", v.Load.GetReceived())
		}
		if c := v.Load.GetCapacity(); c < 0 || c > maxCapacity {
			return fmt.Errorf("load.capacity %d: must be 0 (unchanged) to %d", c, maxCapacity)
		}
	case *rpcpb.ServerMsg_Done:
		rs := v.Done.GetResults()
		if len(rs) == 0 || len(rs) > maxJobsPerMsg {
			return fmt.Errorf("done.results: %d results, want 1-%d", len(rs), maxJobsPerMsg)
		}
		for i, r := range rs {
			if r.GetJobId() <= 0 {
				return fmt.Errorf("done.results[%d].job_id %d: must be positive", i, r.GetJobId())
			}
			if len(r.GetError()) > maxErrorLen {
				return fmt.Errorf("done.results[%d].error: longer than %d bytes", i, maxErrorLen)
			}
		}
	case *rpcpb.ServerMsg_Ready:
		if v.Ready.GetCount() < 0 {
			return fmt.Errorf("ready.count %d: must not be negative", v.Ready.GetCount())
		}
		js := v.Ready.GetJobs()
		if len(js) > maxJobsPerMsg {
			return fmt.Errorf("ready.jobs: %d jobs, want at most %d", len(js), maxJobsPerMsg)
		}
		for i, j := range js {
			if j.GetId() <= 0 {
				return fmt.Errorf("ready.jobs[%d].id %d: must be positive", i, j.GetId())
			}
			if j.GetRunAtUnixMs() < 0 {
				return fmt.Errorf("ready.jobs[%d].run_at_unix_ms %d: must not be negative", i, j.GetRunAtUnixMs())
			}
		}
	case *rpcpb.ServerMsg_Event:
		return validateEvent(v.Event)
	case nil:
		return errors.New("server message: empty")
	default:
		return fmt.Errorf("server message: unknown kind %T", v)
	}
	return nil
}

// ValidateBoosterMsg checks a message received from a booster.
func ValidateBoosterMsg(m *rpcpb.BoosterMsg) error {
	switch v := m.GetMsg().(type) {
	case *rpcpb.BoosterMsg_Welcome:
		if v.Welcome.GetEpoch() < 1 {
			return fmt.Errorf("welcome.epoch %d: must be 1 or more", v.Welcome.GetEpoch())
		}
		return checkHostPort("welcome.booster", v.Welcome.GetBooster(), true)
	case *rpcpb.BoosterMsg_Dispatch:
		ids := v.Dispatch.GetJobIds()
		if len(ids) == 0 || len(ids) > maxJobsPerMsg {
			return fmt.Errorf("dispatch.job_ids: %d ids, want 1-%d", len(ids), maxJobsPerMsg)
		}
		for i, id := range ids {
			if id <= 0 {
				return fmt.Errorf("dispatch.job_ids[%d] %d: must be positive", i, id)
			}
		}
		if v.Dispatch.GetEpoch() < 1 {
			return fmt.Errorf("dispatch.epoch %d: must be 1 or more", v.Dispatch.GetEpoch())
		}
	case *rpcpb.BoosterMsg_Event:
		return validateEvent(v.Event)
	case *rpcpb.BoosterMsg_Redirect:
		return checkHostPort("redirect.active", v.Redirect.GetActive(), false)
	case *rpcpb.BoosterMsg_Heartbeat:
		if v.Heartbeat.GetEpoch() < 1 {
			return fmt.Errorf("heartbeat.epoch %d: must be 1 or more", v.Heartbeat.GetEpoch())
		}
	case nil:
		return errors.New("booster message: empty")
	default:
		return fmt.Errorf("booster message: unknown kind %T", v)
	}
	return nil
}

// ValidateHandover checks a Handover request.
func ValidateHandover(r *rpcpb.HandoverRequest) error {
	if r.GetEpoch() < 1 {
		return fmt.Errorf("handover.epoch %d: must be 1 or more", r.GetEpoch())
	}
	return checkHostPort("handover.from", r.GetFrom(), true)
}

func validateEvent(e *rpcpb.ClusterEvent) error {
	if k := e.GetKind(); k == "" || len(k) > maxEventKind {
		return fmt.Errorf("event.kind %q: want 1-%d bytes", k, maxEventKind)
	}
	if err := checkName("event.kind", e.GetKind(), true); err != nil {
		return err
	}
	if len(e.GetPayload()) > maxEventBytes {
		return fmt.Errorf("event.payload: more than %d bytes", maxEventBytes)
	}
	return nil
}

// RecvRegister waits up to RegisterTimeout for a Connect stream's first
// message and returns it if it is a valid Register. Otherwise it returns
// a codes.InvalidArgument or codes.DeadlineExceeded status error that the
// handler should return.
func RecvRegister(ctx context.Context, stream rpcpb.Booster_ConnectServer) (*rpcpb.Register, error) {
	type result struct {
		msg *rpcpb.ServerMsg
		err error
	}
	ch := make(chan result, 1)
	go func() {
		m, err := stream.Recv()
		ch <- result{m, err}
	}()
	t := time.NewTimer(RegisterTimeout)
	defer t.Stop()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, r.err
		}
		reg := r.msg.GetRegister()
		if reg == nil {
			return nil, status.Error(codes.InvalidArgument, "connect: the first message must be register")
		}
		if err := ValidateRegister(reg); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		return reg, nil
	case <-t.C:
		return nil, status.Errorf(codes.DeadlineExceeded, "connect: no register within %v", RegisterTimeout)
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// StatusToProto converts the status document for the Status RPC.
func StatusToProto(s cluster.Status) *rpcpb.StatusReply {
	out := &rpcpb.StatusReply{Mode: s.Mode, ClusterId: s.ClusterID, ActiveBooster: s.ActiveBooster, Epoch: s.Epoch}
	for _, m := range s.Members {
		out.Members = append(out.Members, &rpcpb.MemberStatus{
			Name: m.Name, Role: string(m.Role), Address: m.Address, Http: m.HTTP,
			State: string(m.State), Version: m.Version, Active: m.Active, Load: int32(min(m.Load, 1<<31-1)),
		})
	}
	return out
}

// StatusFromProto converts a Status reply back, rejecting unknown roles
// and states.
func StatusFromProto(r *rpcpb.StatusReply) (cluster.Status, error) {
	s := cluster.Status{Mode: r.GetMode(), ClusterID: r.GetClusterId(), ActiveBooster: r.GetActiveBooster(), Epoch: r.GetEpoch(),
		Members: []cluster.MemberStatus{}}
	if s.Mode != "cluster" && s.Mode != "standalone" {
		return cluster.Status{}, fmt.Errorf("status.mode %q: want cluster or standalone", s.Mode)
	}
	for i, m := range r.GetMembers() {
		role := cluster.Role(m.GetRole())
		if !role.Valid() {
			return cluster.Status{}, fmt.Errorf("status.members[%d].role %q: unknown", i, m.GetRole())
		}
		st := cluster.MemberState(m.GetState())
		switch st {
		case cluster.StateAlive, cluster.StateSuspect, cluster.StateDead, cluster.StateLeft:
		default:
			return cluster.Status{}, fmt.Errorf("status.members[%d].state %q: unknown", i, m.GetState())
		}
		s.Members = append(s.Members, cluster.MemberStatus{
			Name: m.GetName(), Role: role, Address: m.GetAddress(), HTTP: m.GetHttp(), State: st,
			Version: m.GetVersion(), Active: m.GetActive(), Load: int(m.GetLoad()),
		})
	}
	return s, nil
}

func checkName(field, s string, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("%s: required", field)
		}
		return nil
	}
	limit := maxNameLen
	if field == "register.version" {
		limit = maxVersionText
	}
	if len(s) > limit {
		return fmt.Errorf("%s: longer than %d bytes", field, limit)
	}
	for _, r := range s {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return fmt.Errorf("%s %q: only printable characters without spaces", field, s)
		}
	}
	return nil
}

func checkHostPort(field, s string, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("%s: required", field)
		}
		return nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || len(s) > maxNameLen {
		return fmt.Errorf("%s %q: want host:port", field, s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%s %q: port must be 1-65535", field, s)
	}
	return checkName(field, host, true)
}
