// Package mux shares one TCP port between the cluster protocols. Every
// connection to the cluster port (LOCAL_PORT, 5169 by default) starts with
// one byte that names its protocol; the mux reads that byte and hands the
// rest of the connection to the listener registered for it.
//
// The protocol bytes are chosen so that they can never be the first byte of
// something else that might knock on the port by mistake: a TLS record
// starts with 0x16, HTTP and SSH with ASCII letters, memberlist's own
// message types are below 0x10 or 0xF4 (its label header). An unknown first
// byte closes the connection and logs a line that says what it looked like.
package mux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Kind is the first byte of a connection to the cluster port.
type Kind byte

const (
	// KindGossip marks a memberlist stream (push/pull, TCP probes, joins).
	KindGossip Kind = 0xF0
	// KindRPC marks the booster RPC: gRPC over TLS.
	KindRPC Kind = 0xF1
)

func (k Kind) String() string {
	switch k {
	case KindGossip:
		return "gossip"
	case KindRPC:
		return "rpc"
	}
	return fmt.Sprintf("unknown(0x%02x)", byte(k))
}

// DefaultPeekTimeout is how long a new connection may take to send its
// protocol byte.
const DefaultPeekTimeout = 5 * time.Second

// ErrClosed is returned by Accept on a closed listener.
var ErrClosed = errors.New("mux: listener closed")

// Config configures a Mux.
type Config struct {
	// Addr is the TCP address to listen on, "IP:PORT". Port 0 picks a free
	// port (tests); Addr() tells which.
	Addr string
	// PeekTimeout bounds the wait for the protocol byte (DefaultPeekTimeout
	// when zero).
	PeekTimeout time.Duration
	// Logger receives the mux's log lines (slog.Default() when nil).
	Logger *slog.Logger
}

// Mux accepts connections on one TCP port and routes them by first byte.
type Mux struct {
	cfg    Config
	logger *slog.Logger

	mu      sync.Mutex
	ln      net.Listener
	subs    map[Kind]*Listener
	stopped bool
	done    chan struct{}

	wg sync.WaitGroup
}

// New returns a Mux for cfg. Register listeners with Listen, then Start it.
func New(cfg Config) *Mux {
	if cfg.PeekTimeout <= 0 {
		cfg.PeekTimeout = DefaultPeekTimeout
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Mux{
		cfg:    cfg,
		logger: logger.With("component", "cluster-mux"),
		subs:   map[Kind]*Listener{},
		done:   make(chan struct{}),
	}
}

// Listen returns the listener for connections of kind k. It may be called
// before or after Start; a kind can have only one open listener at a time
// (after that listener is closed, Listen may be called again).
func (m *Mux) Listen(k Kind) (*Listener, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return nil, fmt.Errorf("mux: listen %s: %w", k, ErrClosed)
	}
	if l, ok := m.subs[k]; ok && !l.isClosed() {
		return nil, fmt.Errorf("mux: listen %s: already has a listener", k)
	}
	l := &Listener{mux: m, kind: k, conns: make(chan net.Conn), closed: make(chan struct{})}
	m.subs[k] = l
	return l, nil
}

// Start binds the TCP address and begins accepting. It returns once the
// port is bound.
func (m *Mux) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return fmt.Errorf("mux: start: %w", ErrClosed)
	}
	if m.ln != nil {
		return fmt.Errorf("mux: already started on %s", m.ln.Addr())
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", m.cfg.Addr)
	if err != nil {
		return fmt.Errorf("mux: listen on cluster port %s: %w", m.cfg.Addr, err)
	}
	m.ln = ln
	m.wg.Add(1)
	go m.acceptLoop(ln)
	m.logger.Info("cluster port listening", "addr", ln.Addr().String())
	return nil
}

// StartWithRPC makes a mux on cfg.Addr with the booster RPC listener every
// node serves, and starts it; gossip attaches its listener afterwards.
func StartWithRPC(ctx context.Context, cfg Config) (*Mux, *Listener, error) {
	m := New(cfg)
	ln, err := m.Listen(KindRPC)
	if err != nil {
		return nil, nil, err
	}
	if err := m.Start(ctx); err != nil {
		return nil, nil, err
	}
	return m, ln, nil
}

// Addr returns the bound address, or nil before Start.
func (m *Mux) Addr() *net.TCPAddr {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ln == nil {
		return nil
	}
	return m.ln.Addr().(*net.TCPAddr)
}

// Stop closes the port and every registered listener and waits for the
// accept loop. Connections already handed out are not touched. Calling Stop
// twice is harmless.
func (m *Mux) Stop() {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return
	}
	m.stopped = true
	close(m.done)
	ln := m.ln
	subs := make([]*Listener, 0, len(m.subs))
	for _, l := range m.subs {
		subs = append(subs, l)
	}
	m.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	for _, l := range subs {
		_ = l.Close()
	}
	m.wg.Wait()
}

func (m *Mux) acceptLoop(ln net.Listener) {
	defer m.wg.Done()
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Transient (EMFILE, ECONNABORTED...): back off like
			// memberlist's own TCP listener does.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			m.logger.Error("cluster port: accept failed", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-m.done:
				return
			}
			continue
		}
		delay = 0
		m.wg.Add(1)
		go m.route(conn)
	}
}

// route reads the protocol byte and hands conn to its listener.
func (m *Mux) route(conn net.Conn) {
	defer m.wg.Done()
	remote := conn.RemoteAddr().String()
	_ = conn.SetReadDeadline(time.Now().Add(m.cfg.PeekTimeout))
	var b [1]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		_ = conn.Close()
		m.logger.Debug("cluster port: connection closed before its protocol byte", "remote", remote, "err", err)
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	k := Kind(b[0])

	m.mu.Lock()
	l := m.subs[k]
	m.mu.Unlock()
	if l == nil {
		_ = conn.Close()
		m.logger.Warn("cluster port: unknown protocol byte, connection closed",
			"remote", remote, "byte", fmt.Sprintf("0x%02x", b[0]), "looks_like", guess(b[0]))
		return
	}
	select {
	case l.conns <- conn:
	case <-l.closed:
		_ = conn.Close()
		m.logger.Debug("cluster port: no open listener for protocol, connection closed", "remote", remote, "kind", k.String())
	case <-m.done:
		_ = conn.Close()
	}
}

// guess names what a stray first byte probably belongs to, for the log.
func guess(b byte) string {
	switch {
	case b == 0x16:
		return "a TLS client that does not speak the omflow cluster protocol (wrong port?)"
	case b >= 'A' && b <= 'Z':
		return "plain text such as HTTP or SSH (the cluster port is not the web port)"
	case b < 0x10 || b == 0xF4:
		return "memberlist without the omflow transport (a foreign gossip cluster?)"
	}
	return "unknown client"
}

// Dial connects to the cluster port at addr and announces kind k. The
// returned connection carries that protocol from its first byte on.
func Dial(ctx context.Context, addr string, k Kind) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial cluster port %s (%s): %w", addr, k, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetWriteDeadline(dl)
	}
	if _, err := conn.Write([]byte{byte(k)}); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("dial cluster port %s (%s): send protocol byte: %w", addr, k, err)
	}
	_ = conn.SetWriteDeadline(time.Time{})
	return conn, nil
}

// Listener is a net.Listener for one protocol of a Mux.
type Listener struct {
	mux       *Mux
	kind      Kind
	conns     chan net.Conn
	closeOnce sync.Once
	closed    chan struct{}
}

var _ net.Listener = (*Listener)(nil)

// Accept waits for the next connection of the listener's kind; the
// protocol byte has already been consumed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, fmt.Errorf("accept %s: %w", l.kind, net.ErrClosed)
	}
}

// Close stops this listener; the mux keeps serving other kinds.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

// Addr returns the mux's TCP address (nil before the mux starts).
func (l *Listener) Addr() net.Addr {
	if a := l.mux.Addr(); a != nil {
		return a
	}
	return &net.TCPAddr{}
}

func (l *Listener) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}
