// Package rpc runs the booster RPC (package rpcpb) on the cluster port:
// gRPC over TLS with throw-away self-signed certificates, where both ends
// prove they hold CLUSTER_KEY with an HMAC bound to the TLS channel (see
// auth.go), plus keepalives, connection deadlines and the validation of
// incoming messages. What the booster does with a session is not here: the
// caller supplies the rpcpb.BoosterServer.
package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/omflow/omflow/cluster"
	"github.com/omflow/omflow/cluster/mux"
	"github.com/omflow/omflow/cluster/rpcpb"
)

// Timing of the RPC transport.
const (
	// KeepaliveTime is how often an idle connection is pinged; gRPC
	// clients cannot go below 10 s. Fast failure detection is gossip's job;
	// keepalives only clear half-open connections.
	KeepaliveTime    = 10 * time.Second
	KeepaliveTimeout = 3 * time.Second
	// HandshakeTimeout bounds TLS and HTTP/2 setup on both sides.
	HandshakeTimeout = 5 * time.Second
	// DefaultCallTimeout is applied to unary calls made without a deadline.
	DefaultCallTimeout = 5 * time.Second
	// RegisterTimeout is how long a server has to send Register after
	// opening Connect.
	RegisterTimeout = 5 * time.Second
	// stopGrace is how long Stop lets calls finish before cutting them.
	stopGrace = time.Second
)

// ServerConfig configures a Server.
type ServerConfig struct {
	Key      []byte       // decoded CLUSTER_KEY
	Listener net.Listener // the mux's KindRPC listener
	Service  rpcpb.BoosterServer
	Logger   *slog.Logger
}

// Server serves the booster RPC on a mux listener.
type Server struct {
	cfg    ServerConfig
	logger *slog.Logger
	grpc   *grpc.Server

	mu      sync.Mutex
	started bool
	stopped bool
	done    chan struct{}
}

// NewServer generates the TLS certificate and builds the gRPC server.
func NewServer(cfg ServerConfig) (*Server, error) {
	if len(cfg.Key) != cluster.KeySize {
		return nil, fmt.Errorf("cluster rpc: key is %d bytes, want %d", len(cfg.Key), cluster.KeySize)
	}
	if cfg.Listener == nil || cfg.Service == nil {
		return nil, errors.New("cluster rpc: Listener and Service are required")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "cluster-rpc")
	cert, err := selfSignedCert()
	if err != nil {
		return nil, fmt.Errorf("cluster rpc: %w", err)
	}
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	auth := serverAuth{key: cfg.Key, logger: logger}
	gs := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(tlsConf)),
		grpc.ConnectionTimeout(HandshakeTimeout),
		grpc.ChainUnaryInterceptor(auth.unary),
		grpc.ChainStreamInterceptor(auth.stream),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: KeepaliveTime, Timeout: KeepaliveTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: KeepaliveTime / 2, PermitWithoutStream: true}),
	)
	rpcpb.RegisterBoosterServer(gs, cfg.Service)
	return &Server{cfg: cfg, logger: logger, grpc: gs, done: make(chan struct{})}, nil
}

// Start serves in the background.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return errors.New("cluster rpc: Start called twice or after Stop")
	}
	s.started = true
	go func() {
		defer close(s.done)
		if err := s.grpc.Serve(s.cfg.Listener); err != nil && !errors.Is(err, grpc.ErrServerStopped) && !errors.Is(err, net.ErrClosed) {
			s.logger.Error("rpc: serve stopped", "err", err)
		}
	}()
	return nil
}

// Stop lets running calls end for up to a second, then cuts them. Calling
// Stop twice is harmless.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	started := s.started
	s.mu.Unlock()
	graceful := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(graceful)
	}()
	select {
	case <-graceful:
	case <-time.After(stopGrace):
		s.grpc.Stop()
		<-graceful
	}
	if started {
		<-s.done
	}
}

// ClientConfig configures Dial.
type ClientConfig struct {
	Key []byte // decoded CLUSTER_KEY
	// ProofTimeout bounds the wait for a stream's key proof
	// (HandshakeTimeout when zero).
	ProofTimeout time.Duration
	Logger       *slog.Logger
}

// Client is a connection to one node's booster RPC.
type Client struct {
	rpcpb.BoosterClient
	conn *grpc.ClientConn
	addr string
}

// Dial prepares a connection to the cluster port at addr ("IP:PORT"). It
// connects lazily, reconnects with a short backoff, and checks the node's
// key proof on every call.
func Dial(addr string, cfg ClientConfig) (*Client, error) {
	if len(cfg.Key) != cluster.KeySize {
		return nil, fmt.Errorf("cluster rpc: key is %d bytes, want %d", len(cfg.Key), cluster.KeySize)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "cluster-rpc")
	if cfg.ProofTimeout <= 0 {
		cfg.ProofTimeout = HandshakeTimeout
	}
	auth := clientAuth{key: cfg.Key, target: addr, proofTimeout: cfg.ProofTimeout, logger: logger}
	// InsecureSkipVerify: the server is authenticated by its key proof,
	// bound to this TLS session (auth.go), not by its certificate.
	tlsConf := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13} //nolint:gosec // see above
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			return mux.Dial(ctx, a, mux.KindRPC)
		}),
		grpc.WithTransportCredentials(credentials.NewTLS(tlsConf)),
		grpc.WithPerRPCCredentials(keyCreds{key: cfg.Key}),
		grpc.WithChainUnaryInterceptor(defaultDeadline, auth.unary),
		grpc.WithChainStreamInterceptor(auth.stream),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: KeepaliveTime, Timeout: KeepaliveTimeout, PermitWithoutStream: true}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: HandshakeTimeout,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("cluster rpc: dial %s: %w", addr, err)
	}
	return &Client{BoosterClient: rpcpb.NewBoosterClient(conn), conn: conn, addr: addr}, nil
}

// Addr is the node address this client talks to.
func (c *Client) Addr() string { return c.addr }

// Warm starts connecting now rather than at the first call, so that a call
// that must be quick (a handover) does not pay for the TLS handshake.
func (c *Client) Warm() { c.conn.Connect() }

// ResetBackoff makes a connection that waits to retry its node try again
// at once (for example when gossip reports the node alive again).
func (c *Client) ResetBackoff() { c.conn.ResetConnectBackoff() }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

func defaultDeadline(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCallTimeout)
		defer cancel()
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}
