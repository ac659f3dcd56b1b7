package mux

import (
	"context"
	"errors"
	"github.com/omflow/omflow/internal/testutil"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

type syncBuffer = testutil.LogBuffer

func startMux(t *testing.T, cfg Config) (*Mux, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := New(cfg)
	t.Cleanup(m.Stop)
	return m, logs
}

// echoFirst accepts one connection on l and sends back what it reads up to
// the first newline, prefixed with tag.
func echoFirst(t *testing.T, l net.Listener, tag string) {
	t.Helper()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		_, _ = c.Write(append([]byte(tag+":"), buf[:n]...))
	}()
}

func TestRoutesByFirstByte(t *testing.T) {
	m, _ := startMux(t, Config{})
	gl, err := m.Listen(KindGossip)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := m.Listen(KindRPC)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	echoFirst(t, gl, "gossip")
	echoFirst(t, rl, "rpc")

	for _, tc := range []struct {
		kind Kind
		want string
	}{{KindRPC, "rpc:hello"}, {KindGossip, "gossip:hello"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := Dial(ctx, m.Addr().String(), tc.kind)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(c)
		c.Close()
		if string(got) != tc.want {
			t.Errorf("kind %s: got %q, want %q", tc.kind, got, tc.want)
		}
	}
}

func TestUnknownByteClosedAndLogged(t *testing.T) {
	m, logs := startMux(t, Config{})
	if _, err := m.Listen(KindRPC); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET / HTTP/1.0\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read succeeded; want the mux to close the connection")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection left open; want it closed")
	}
	waitFor(t, func() bool { return strings.Contains(logs.String(), "unknown protocol byte") })
	if !strings.Contains(logs.String(), "byte=0x47") || !strings.Contains(logs.String(), "HTTP") {
		t.Errorf("log does not name the byte and its guess: %s", logs.String())
	}
	// A known kind with no listener registered (gossip here) is
	// refused the same way.
	c2, err := Dial(context.Background(), m.Addr().String(), KindGossip)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_ = c2.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); err == nil {
		t.Fatal("gossip connection without a gossip listener was not closed")
	}
}

func TestSilentConnectionTimesOut(t *testing.T) {
	m, logs := startMux(t, Config{PeekTimeout: 100 * time.Millisecond})
	if _, err := m.Listen(KindRPC); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("silent connection not closed by the peek deadline")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("closed after %v, want about the 100ms peek timeout", d)
	}
	waitFor(t, func() bool { return strings.Contains(logs.String(), "before its protocol byte") })
}

func TestListenerLifecycle(t *testing.T) {
	m, _ := startMux(t, Config{})
	l, err := m.Listen(KindRPC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Listen(KindRPC); err == nil {
		t.Fatal("second open listener for one kind accepted")
	}
	_ = l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept on closed listener: %v, want net.ErrClosed", err)
	}
	l2, err := m.Listen(KindRPC)
	if err != nil {
		t.Fatalf("listen again after close: %v", err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err == nil {
		t.Fatal("second Start accepted")
	}
	m.Stop()
	m.Stop() // harmless
	if _, err := l2.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Stop: %v, want net.ErrClosed", err)
	}
	if _, err := m.Listen(KindGossip); err == nil {
		t.Fatal("Listen after Stop accepted")
	}
}

func TestStartReportsBusyPort(t *testing.T) {
	m1, _ := startMux(t, Config{})
	if err := m1.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	m2, _ := startMux(t, Config{Addr: m1.Addr().String()})
	err := m2.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), m1.Addr().String()) {
		t.Fatalf("Start on a busy port: %v, want an error naming the address", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 3s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
