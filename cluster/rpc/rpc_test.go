package rpc

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"github.com/omflow/omflow/internal/testutil"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/omflow/omflow/cluster"
	"github.com/omflow/omflow/cluster/gossip"
	"github.com/omflow/omflow/cluster/mux"
	"github.com/omflow/omflow/cluster/rpcpb"
)

type syncBuffer = testutil.LogBuffer

func newKey(t *testing.T) []byte { return testutil.ClusterKey(t) }

func testLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

var testStatus = cluster.Status{
	Mode: "cluster", ClusterID: "omflow-12345678", ActiveBooster: "127.0.0.2:5169", Epoch: 4,
	Members: []cluster.MemberStatus{
		{Name: "b1", Role: cluster.RoleBooster, Address: "127.0.0.2:5169", State: cluster.StateAlive, Version: "1", Active: true},
		{Name: "s1", Role: cluster.RoleServer, Address: "127.0.0.3:5169", HTTP: "127.0.0.3:8080", State: cluster.StateSuspect, Version: "1", Load: 3},
	},
}

// fakeBooster welcomes a server and answers each JobsReady with a Dispatch.
type fakeBooster struct {
	rpcpb.UnimplementedBoosterServer
}

func (fakeBooster) Status(context.Context, *rpcpb.StatusRequest) (*rpcpb.StatusReply, error) {
	return StatusToProto(testStatus), nil
}

func (fakeBooster) Connect(stream rpcpb.Booster_ConnectServer) error {
	reg, err := RecvRegister(stream.Context(), stream)
	if err != nil {
		return err
	}
	if err := stream.Send(&rpcpb.BoosterMsg{Msg: &rpcpb.BoosterMsg_Welcome{Welcome: &rpcpb.Welcome{Booster: "127.0.0.2:5169", Epoch: 4}}}); err != nil {
		return err
	}
	for {
		m, err := stream.Recv()
		if err != nil {
			return nil
		}
		if err := ValidateServerMsg(m); err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		if r := m.GetReady(); r != nil {
			ids := make([]int64, r.GetCount())
			for i := range ids {
				ids[i] = int64(i + 1)
			}
			_ = stream.Send(&rpcpb.BoosterMsg{Msg: &rpcpb.BoosterMsg_Dispatch{Dispatch: &rpcpb.Dispatch{JobIds: ids, Epoch: 4}}})
		}
		_ = reg
	}
}

type rpcNode struct {
	mux  *mux.Mux
	addr string
	logs *syncBuffer
}

func startServer(t *testing.T, ip string, key []byte) *rpcNode {
	t.Helper()
	logger, logs := testLogger()
	mx := mux.New(mux.Config{Addr: ip + ":0", Logger: logger})
	ln, err := mx.Listen(mux.KindRPC)
	if err != nil {
		t.Fatal(err)
	}
	if err := mx.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(ServerConfig{Key: key, Listener: ln, Service: fakeBooster{}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Stop()
		srv.Stop() // harmless
		mx.Stop()
	})
	return &rpcNode{mux: mx, addr: mx.Addr().String(), logs: logs}
}

func dial(t *testing.T, addr string, key []byte) (*Client, *syncBuffer) {
	t.Helper()
	logger, logs := testLogger()
	c, err := Dial(addr, ClientConfig{Key: key, Logger: logger, ProofTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, logs
}

func TestStatusAndConnect(t *testing.T) {
	key := newKey(t)
	n := startServer(t, "127.0.0.2", key)
	c, _ := dial(t, n.addr, key)

	reply, err := c.Status(context.Background(), &rpcpb.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := StatusFromProto(reply)
	if err != nil {
		t.Fatal(err)
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(testStatus)
	if !bytes.Equal(gj, wj) {
		t.Errorf("status round trip:\n got %s\nwant %s", gj, wj)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	stream, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reg := &rpcpb.Register{Name: "s1", Address: "127.0.0.3:5169", HttpAddr: "127.0.0.3:8080", Capacity: 8, Version: "1"}
	if err := stream.Send(&rpcpb.ServerMsg{Msg: &rpcpb.ServerMsg_Register{Register: reg}}); err != nil {
		t.Fatal(err)
	}
	m, err := stream.Recv()
	if err != nil || m.GetWelcome().GetEpoch() != 4 || ValidateBoosterMsg(m) != nil {
		t.Fatalf("first booster message %v, %v; want a valid welcome at epoch 4", m, err)
	}
	if err := stream.Send(&rpcpb.ServerMsg{Msg: &rpcpb.ServerMsg_Ready{Ready: &rpcpb.JobsReady{Count: 3}}}); err != nil {
		t.Fatal(err)
	}
	m, err = stream.Recv()
	if err != nil || len(m.GetDispatch().GetJobIds()) != 3 || ValidateBoosterMsg(m) != nil {
		t.Fatalf("dispatch %v, %v; want 3 job ids", m, err)
	}
	_ = stream.CloseSend()
}

func TestInvalidRegisterRefused(t *testing.T) {
	key := newKey(t)
	n := startServer(t, "127.0.0.2", key)
	c, _ := dial(t, n.addr, key)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	stream, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reg := &rpcpb.Register{Name: "s1", Address: "127.0.0.3:5169", Capacity: 0}
	_ = stream.Send(&rpcpb.ServerMsg{Msg: &rpcpb.ServerMsg_Register{Register: reg}})
	_, err = stream.Recv()
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "register.capacity") {
		t.Fatalf("Recv after bad register: %v; want InvalidArgument naming register.capacity", err)
	}
}

func TestWrongKeyRefusedOnBothSides(t *testing.T) {
	n := startServer(t, "127.0.0.2", newKey(t))
	c, clientLogs := dial(t, n.addr, newKey(t))

	start := time.Now()
	_, err := c.Status(context.Background(), &rpcpb.StatusRequest{})
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), MsgKeyMismatch) {
		t.Fatalf("Status with a wrong key: %v; want Unauthenticated %q", err, MsgKeyMismatch)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = c.Connect(ctx)
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), MsgKeyMismatch) {
		t.Fatalf("Connect with a wrong key: %v; want Unauthenticated %q", err, MsgKeyMismatch)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusal took %v; want no hang", d)
	}
	if !strings.Contains(n.logs.String(), "refused a call: "+MsgKeyMismatch) {
		t.Errorf("server log lacks the refusal:\n%s", n.logs.String())
	}
	if !strings.Contains(clientLogs.String(), "refused by the node: "+MsgKeyMismatch) {
		t.Errorf("client log lacks the refusal:\n%s", clientLogs.String())
	}
}

// A server that does not prove the key (here: one that accepts anyone and
// sends no proof) is refused by the client.
func TestClientRefusesServerWithoutProof(t *testing.T) {
	logger, _ := testLogger()
	mx := mux.New(mux.Config{Addr: "127.0.0.2:0", Logger: logger})
	ln, _ := mx.Listen(mux.KindRPC)
	if err := mx.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer mx.Stop()
	cert, err := selfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})))
	rpcpb.RegisterBoosterServer(gs, fakeBooster{})
	go func() { _ = gs.Serve(ln) }()
	defer gs.Stop()

	c, clientLogs := dial(t, mx.Addr().String(), newKey(t))
	_, err = c.Status(context.Background(), &rpcpb.StatusRequest{})
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "did not prove") {
		t.Fatalf("Status from an impostor: %v; want Unauthenticated 'did not prove'", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := c.Connect(ctx); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("Connect to an impostor: %v; want Unauthenticated", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("impostor stalled the client for %v", d)
	}
	if !strings.Contains(clientLogs.String(), "does not prove it holds our CLUSTER_KEY") {
		t.Errorf("client log lacks the refusal:\n%s", clientLogs.String())
	}
}

// Gossip and RPC share one port.
func TestGossipAndRPCShareThePort(t *testing.T) {
	key := newKey(t)
	n := startServer(t, "127.0.0.2", key)
	logger, _ := testLogger()
	g, err := gossip.New(gossip.Config{Key: key, AdvertiseIP: "127.0.0.2", Mux: n.mux, Logger: logger,
		Meta: gossip.Meta{Role: cluster.RoleBooster, Name: "b1", BoosterOrder: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()

	mx2 := mux.New(mux.Config{Addr: "127.0.0.3:0", Logger: logger})
	if err := mx2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer mx2.Stop()
	g2, err := gossip.New(gossip.Config{Key: key, AdvertiseIP: "127.0.0.3", Mux: mx2, Seeds: []string{n.addr}, Logger: logger,
		Meta: gossip.Meta{Role: cluster.RoleServer, Name: "s1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := g2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer g2.Stop()

	c, _ := dial(t, n.addr, key)
	if _, err := c.Status(context.Background(), &rpcpb.StatusRequest{}); err != nil {
		t.Fatalf("RPC on the gossip port: %v", err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for len(g.Members()) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("gossip over the shared port: %d members, want 2", len(g.Members()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestValidateMessages(t *testing.T) {
	bad := []*rpcpb.ServerMsg{
		{},
		{Msg: &rpcpb.ServerMsg_Register{Register: &rpcpb.Register{}}},
		{Msg: &rpcpb.ServerMsg_Load{Load: &rpcpb.Load{Running: -1}}},
		{Msg: &rpcpb.ServerMsg_Done{Done: &rpcpb.JobsDone{}}},
		{Msg: &rpcpb.ServerMsg_Done{Done: &rpcpb.JobsDone{Results: []*rpcpb.JobResult{{JobId: 0}}}}},
		{Msg: &rpcpb.ServerMsg_Ready{Ready: &rpcpb.JobsReady{Count: -2}}},
	}
	for i, m := range bad {
		if ValidateServerMsg(m) == nil {
			t.Errorf("bad server message %d accepted: %v", i, m)
		}
	}
	good := &rpcpb.ServerMsg{Msg: &rpcpb.ServerMsg_Done{Done: &rpcpb.JobsDone{Results: []*rpcpb.JobResult{{JobId: 7, Ok: true}}}}}
	if err := ValidateServerMsg(good); err != nil {
		t.Errorf("good message refused: %v", err)
	}
	for _, r := range []*rpcpb.Register{
		{Name: "s 1", Address: "127.0.0.1:1", Capacity: 1},
		{Name: "s1", Address: "nohost", Capacity: 1},
		{Name: "s1", Address: "127.0.0.1:0", Capacity: 1},
		{Name: "s1", Address: "127.0.0.1:1", Capacity: 1, HttpAddr: ":80"},
		{Name: "s1", Address: "127.0.0.1:1", Capacity: maxCapacity + 1},
	} {
		if ValidateRegister(r) == nil {
			t.Errorf("bad register accepted: %v", r)
		}
	}
	badB := []*rpcpb.BoosterMsg{
		{},
		{Msg: &rpcpb.BoosterMsg_Welcome{Welcome: &rpcpb.Welcome{Booster: "1.2.3.4:5", Epoch: 0}}},
		{Msg: &rpcpb.BoosterMsg_Dispatch{Dispatch: &rpcpb.Dispatch{JobIds: []int64{1, -1}, Epoch: 1}}},
		{Msg: &rpcpb.BoosterMsg_Event{Event: &rpcpb.ClusterEvent{}}},
		{Msg: &rpcpb.BoosterMsg_Redirect{Redirect: &rpcpb.Redirect{Active: "x"}}},
	}
	for i, m := range badB {
		if ValidateBoosterMsg(m) == nil {
			t.Errorf("bad booster message %d accepted: %v", i, m)
		}
	}
	if _, err := StatusFromProto(&rpcpb.StatusReply{Mode: "cluster", Members: []*rpcpb.MemberStatus{{Role: "server", State: "zombie"}}}); err == nil {
		t.Error("unknown member state accepted")
	}
}

func FuzzValidateServerMsg(f *testing.F) {
	for _, m := range []*rpcpb.ServerMsg{
		{Msg: &rpcpb.ServerMsg_Register{Register: &rpcpb.Register{Name: "s", Address: "1.2.3.4:5", Capacity: 2}}},
		{Msg: &rpcpb.ServerMsg_Done{Done: &rpcpb.JobsDone{Results: []*rpcpb.JobResult{{JobId: 7, Ok: true}}}}},
		{Msg: &rpcpb.ServerMsg_Ready{Ready: &rpcpb.JobsReady{Count: 1, Jobs: []*rpcpb.ReadyJob{{Id: 3, RunAtUnixMs: 1700000000000}}}}},
		{Msg: &rpcpb.ServerMsg_Event{Event: &rpcpb.ClusterEvent{Kind: "flows", Payload: []byte("{}"), Version: 2}}},
		{Msg: &rpcpb.ServerMsg_Load{Load: &rpcpb.Load{Running: 3, Received: 9}}},
	} {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var bm rpcpb.BoosterMsg
		if proto.Unmarshal(b, &bm) == nil {
			_ = ValidateBoosterMsg(&bm)
		}
		var m rpcpb.ServerMsg
		if proto.Unmarshal(b, &m) != nil {
			return
		}
		_ = ValidateServerMsg(&m)
		if r := m.GetRegister(); r != nil {
			_ = ValidateRegister(r)
		}
	})
}

func TestValidateNewMessageKinds(t *testing.T) {
	bad := []*rpcpb.ServerMsg{
		{Msg: &rpcpb.ServerMsg_Ready{Ready: &rpcpb.JobsReady{Jobs: []*rpcpb.ReadyJob{{Id: 0}}}}},
		{Msg: &rpcpb.ServerMsg_Ready{Ready: &rpcpb.JobsReady{Jobs: []*rpcpb.ReadyJob{{Id: 1, RunAtUnixMs: -1}}}}},
		{Msg: &rpcpb.ServerMsg_Event{Event: &rpcpb.ClusterEvent{Kind: ""}}},
		{Msg: &rpcpb.ServerMsg_Event{Event: &rpcpb.ClusterEvent{Kind: "has space"}}},
		{Msg: &rpcpb.ServerMsg_Load{Load: &rpcpb.Load{Received: -1}}},
	}
	for _, m := range bad {
		if err := ValidateServerMsg(m); err == nil {
			t.Errorf("accepted %v", m)
		}
	}
	good := []*rpcpb.ServerMsg{
		{Msg: &rpcpb.ServerMsg_Ready{Ready: &rpcpb.JobsReady{Count: 1, Jobs: []*rpcpb.ReadyJob{{Id: 1, RunAtUnixMs: 5}}}}},
		{Msg: &rpcpb.ServerMsg_Event{Event: &rpcpb.ClusterEvent{Kind: "changed:flows", Version: 3}}},
		{Msg: &rpcpb.ServerMsg_Load{Load: &rpcpb.Load{Running: 1, Received: 4}}},
	}
	for _, m := range good {
		if err := ValidateServerMsg(m); err != nil {
			t.Errorf("refused %v: %v", m, err)
		}
	}
	if ValidateHandover(&rpcpb.HandoverRequest{From: "10.0.0.1:5169", Epoch: 3}) != nil ||
		ValidateHandover(&rpcpb.HandoverRequest{From: "nohost", Epoch: 3}) == nil ||
		ValidateHandover(&rpcpb.HandoverRequest{From: "10.0.0.1:5169"}) == nil {
		t.Error("handover validation")
	}
	if err := ValidateBoosterMsg(&rpcpb.BoosterMsg{Msg: &rpcpb.BoosterMsg_Heartbeat{Heartbeat: &rpcpb.Heartbeat{Epoch: 0}}}); err == nil {
		t.Error("heartbeat with epoch 0 accepted")
	}
	if err := ValidateBoosterMsg(&rpcpb.BoosterMsg{Msg: &rpcpb.BoosterMsg_Heartbeat{Heartbeat: &rpcpb.Heartbeat{Epoch: 2}}}); err != nil {
		t.Error(err)
	}
}
