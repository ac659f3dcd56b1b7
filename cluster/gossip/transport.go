package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/omflow/omflow/cluster/mux"
)

// udpPacketBufSize is the largest UDP packet memberlist may send us.
const udpPacketBufSize = 65536

// transport is a memberlist.NodeAwareTransport on the omflow cluster port:
// UDP packets on a socket bound to the same IP and port number as the mux,
// and TCP streams through the mux (protocol byte mux.KindGossip). It is
// modelled on memberlist's NetTransport (net_transport.go), which owns its
// TCP listener and therefore cannot share the port.
type transport struct {
	logger   *slog.Logger
	advIP    net.IP
	port     int
	udp      *net.UDPConn
	streams  net.Listener
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	shutdown atomic.Bool
	done     chan struct{}
	wg       sync.WaitGroup
}

var _ memberlist.NodeAwareTransport = (*transport)(nil)

// newTransport binds UDP bindIP:port and starts reading packets and
// accepting streams from the gossip listener of the mux.
func newTransport(logger *slog.Logger, bindIP, advIP net.IP, port int, streams net.Listener) (*transport, error) {
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: bindIP, Port: port})
	if err != nil {
		return nil, fmt.Errorf("gossip: listen UDP %s: %w", net.JoinHostPort(bindIP.String(), fmt.Sprint(port)), err)
	}
	// Like NetTransport: ask for a large receive buffer, settle for less.
	for size := 2 * 1024 * 1024; size > 0; size /= 2 {
		if udp.SetReadBuffer(size) == nil {
			break
		}
	}
	t := &transport{
		logger:   logger,
		advIP:    advIP,
		port:     port,
		udp:      udp,
		streams:  streams,
		packetCh: make(chan *memberlist.Packet),
		streamCh: make(chan net.Conn),
		done:     make(chan struct{}),
	}
	t.wg.Add(2)
	go t.udpLoop()
	go t.streamLoop()
	return t, nil
}

// FinalAdvertiseAddr implements memberlist.Transport.
func (t *transport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip == "" {
		return t.advIP, t.port, nil
	}
	parsed := net.ParseIP(ip)
	if parsed == nil {
		return nil, 0, fmt.Errorf("gossip: advertise address %q is not an IP", ip)
	}
	if v4 := parsed.To4(); v4 != nil {
		parsed = v4
	}
	if port == 0 {
		port = t.port
	}
	return parsed, port, nil
}

// WriteTo implements memberlist.Transport.
func (t *transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress implements memberlist.NodeAwareTransport.
func (t *transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	udpAddr, err := net.ResolveUDPAddr("udp", a.Addr)
	if err != nil {
		return time.Time{}, err
	}
	_, err = t.udp.WriteTo(b, udpAddr)
	return time.Now(), err
}

// PacketCh implements memberlist.Transport.
func (t *transport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// DialTimeout implements memberlist.Transport.
func (t *transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout implements memberlist.NodeAwareTransport.
func (t *transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return mux.Dial(ctx, a.Addr, mux.KindGossip)
}

// StreamCh implements memberlist.Transport.
func (t *transport) StreamCh() <-chan net.Conn { return t.streamCh }

// Shutdown implements memberlist.Transport. It closes the UDP socket and
// the gossip listener (the mux keeps serving RPC) and waits for the loops.
func (t *transport) Shutdown() error {
	if t.shutdown.Swap(true) {
		return nil
	}
	close(t.done)
	_ = t.udp.Close()
	_ = t.streams.Close()
	t.wg.Wait()
	return nil
}

func (t *transport) udpLoop() {
	defer t.wg.Done()
	for {
		buf := make([]byte, udpPacketBufSize)
		n, addr, err := t.udp.ReadFrom(buf)
		ts := time.Now()
		if err != nil {
			if t.shutdown.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			t.logger.Error("gossip: read UDP packet", "err", err)
			continue
		}
		if n < 1 {
			continue
		}
		select {
		case t.packetCh <- &memberlist.Packet{Buf: buf[:n], From: addr, Timestamp: ts}:
		case <-t.done:
			return
		}
	}
}

func (t *transport) streamLoop() {
	defer t.wg.Done()
	for {
		conn, err := t.streams.Accept()
		if err != nil {
			// The mux listener only fails when closed.
			return
		}
		select {
		case t.streamCh <- conn:
		case <-t.done:
			_ = conn.Close()
			return
		}
	}
}
