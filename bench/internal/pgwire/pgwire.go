// Package pgwire is a counting TCP proxy for the PostgreSQL wire protocol:
// it forwards a client's connections to the server unchanged and counts the
// statements the client runs (by text), the round trips (Sync and simple
// Query messages) and the transactions, so a benchmark can say how many SQL
// statements one request costs without pg_stat_statements.
package pgwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
)

// Counts are what the proxy saw from clients since the last Reset.
type Counts struct {
	Statements map[string]int64 // executions by normalized SQL text
	Executes   int64            // Execute messages and statements in simple Query messages
	Syncs      int64            // round trips: Sync plus simple Query messages
	Parses     int64            // statements prepared (Parse messages)
	Prepared   map[string]int64 // Parse messages by normalized SQL text
	Closes     int64            // prepared statements closed (Close messages)
	Conns      int64            // connections opened
}

// Top returns the n most executed statements, most first.
func (c Counts) Top(n int) []StatementCount { return top(c.Statements, n) }

// TopPrepared returns the n most often prepared statements, most first.
func (c Counts) TopPrepared(n int) []StatementCount { return top(c.Prepared, n) }

func top(m map[string]int64, n int) []StatementCount {
	out := make([]StatementCount, 0, len(m))
	for q, k := range m {
		out = append(out, StatementCount{SQL: q, N: k})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].SQL < out[j].SQL
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// StatementCount is one statement text and how often it ran.
type StatementCount struct {
	SQL string
	N   int64
}

// Proxy listens on a loopback port and forwards to Target.
type Proxy struct {
	Target string
	log    *slog.Logger
	ln     net.Listener

	mu sync.Mutex
	c  Counts

	wg sync.WaitGroup
}

// Listen starts a proxy to target ("host:port") on 127.0.0.1 at a free
// port. Close stops it.
func Listen(target string, log *slog.Logger) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("pgwire: listen: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	p := &Proxy{Target: target, log: log, ln: ln, c: Counts{Statements: map[string]int64{}, Prepared: map[string]int64{}}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's listening address.
func (p *Proxy) Addr() *net.TCPAddr { return p.ln.Addr().(*net.TCPAddr) }

// Close stops accepting; open connections end when either side closes.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

// Snapshot returns a copy of the counts.
func (p *Proxy) Snapshot() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.c
	c.Statements = make(map[string]int64, len(p.c.Statements))
	for k, v := range p.c.Statements {
		c.Statements[k] = v
	}
	c.Prepared = make(map[string]int64, len(p.c.Prepared))
	for k, v := range p.c.Prepared {
		c.Prepared[k] = v
	}
	return c
}

// Reset zeroes the counts.
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.c = Counts{Statements: map[string]int64{}, Prepared: map[string]int64{}}
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.Target)
	if err != nil {
		p.log.Warn("pgwire: dial server", "target", p.Target, "err", err)
		return
	}
	defer server.Close()
	p.mu.Lock()
	p.c.Conns++
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(client, server)
		client.Close()
		close(done)
	}()
	if err := p.readFrontend(io.TeeReader(client, server)); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		p.log.Debug("pgwire: client stream", "err", err)
	}
	server.Close()
	<-done
}

// readFrontend parses the client's messages as they pass.
func (p *Proxy) readFrontend(r io.Reader) error {
	var hdr [8]byte
	// Untyped start-up messages: SSL/GSS requests, then the start-up packet.
	for {
		if _, err := io.ReadFull(r, hdr[:8]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(hdr[:4]))
		code := binary.BigEndian.Uint32(hdr[4:8])
		if n < 8 || n > 1<<20 {
			return fmt.Errorf("start-up message of %d bytes", n)
		}
		if _, err := io.CopyN(io.Discard, r, int64(n-8)); err != nil {
			return err
		}
		if code != 80877103 && code != 80877104 { // SSLRequest, GSSENCRequest
			break
		}
	}
	st := &connState{stmts: map[string]string{}, portals: map[string]string{}}
	buf := make([]byte, 0, 4096)
	for {
		if _, err := io.ReadFull(r, hdr[:5]); err != nil {
			return err
		}
		typ := hdr[0]
		n := int(binary.BigEndian.Uint32(hdr[1:5])) - 4
		if n < 0 {
			return fmt.Errorf("message %q with length %d", typ, n)
		}
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		body := buf[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			return err
		}
		p.message(st, typ, body)
	}
}

type connState struct {
	stmts   map[string]string // prepared statement name -> text
	portals map[string]string // portal name -> text
}

func (p *Proxy) message(st *connState, typ byte, body []byte) {
	switch typ {
	case 'P': // Parse: name, query, ...
		name, rest := cstring(body)
		q, _ := cstring(rest)
		nq := Normalize(q)
		st.stmts[name] = nq
		p.mu.Lock()
		p.c.Parses++
		p.c.Prepared[nq]++
		p.mu.Unlock()
	case 'B': // Bind: portal, statement, ...
		portal, rest := cstring(body)
		stmt, _ := cstring(rest)
		st.portals[portal] = st.stmts[stmt]
	case 'E': // Execute: portal, max rows
		portal, _ := cstring(body)
		q := st.portals[portal]
		p.mu.Lock()
		p.c.Executes++
		p.c.Statements[q]++
		p.mu.Unlock()
	case 'S': // Sync
		p.mu.Lock()
		p.c.Syncs++
		p.mu.Unlock()
	case 'Q': // simple Query
		q, _ := cstring(body)
		p.mu.Lock()
		p.c.Syncs++
		p.c.Executes++
		p.c.Statements[Normalize(q)]++
		p.mu.Unlock()
	case 'C': // Close: 'S' or 'P', name
		p.mu.Lock()
		p.c.Closes++
		p.mu.Unlock()
		if len(body) > 1 {
			name, _ := cstring(body[1:])
			if body[0] == 'S' {
				delete(st.stmts, name)
			} else {
				delete(st.portals, name)
			}
		}
	}
}

func cstring(b []byte) (string, []byte) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), b[i+1:]
		}
	}
	return string(b), nil
}

// Normalize collapses runs of white space, so one statement counts as one
// line however it was indented.
func Normalize(q string) string {
	return strings.Join(strings.Fields(q), " ")
}
