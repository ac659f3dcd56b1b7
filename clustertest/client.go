package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/omflow/omflow/cluster"
	"github.com/omflow/omflow/store"
)

func newHTTPClient() *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// HTTPError is an answer with a status code other than 2xx.
type HTTPError struct {
	Node   string
	Method string
	Path   string
	Code   int
	Body   string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s on %s: %d %s", e.Method, e.Path, e.Node, e.Code, strings.TrimSpace(e.Body))
}

// TransportError is a request that got no HTTP answer at all: refused,
// reset or timed out (what a client of a killed or paused server sees).
type TransportError struct {
	Node string
	Err  error
}

func (e *TransportError) Error() string { return fmt.Sprintf("no answer from %s: %v", e.Node, e.Err) }
func (e *TransportError) Unwrap() error { return e.Err }

// IsTransport reports whether err is a TransportError.
func IsTransport(err error) bool {
	var te *TransportError
	return errors.As(err, &te)
}

// Do sends a JSON request to node n with the administrator's token (when
// logged in) and decodes a JSON answer into out (when not nil). A []byte
// body is sent as it is.
func (c *Cluster) Do(ctx context.Context, n *Node, method, path string, body, out any) error {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, n.URL()+path, rd)
	if err != nil {
		return err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.httpc.Do(req)
	if err != nil {
		return &TransportError{Node: n.Name, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return &TransportError{Node: n.Name, Err: err}
	}
	if resp.StatusCode/100 != 2 {
		return &HTTPError{Node: n.Name, Method: method, Path: path, Code: resp.StatusCode, Body: string(data)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s on %s: decode answer: %w (%.200s)", method, path, n.Name, err, data)
		}
	}
	return nil
}

// Login logs the administrator in through the first server and keeps the
// token (valid on every server: tokens live in the database).
func (c *Cluster) Login() {
	c.t.Helper()
	var res struct {
		Token string `json:"token"`
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.Token = ""
	if err := c.Do(ctx, c.Servers[0], http.MethodPost, "/api/v1/login",
		map[string]string{"username": store.AdminUsername, "password": c.opts.AdminPass}, &res); err != nil {
		c.t.Fatalf("clustertest: admin login: %v", err)
	}
	c.Token = res.Token
}

// ImportApp imports an app export file through the first server and waits
// until every running server lists the flow named apiPath.
func (c *Cluster) ImportApp(file, apiPath string) {
	c.t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		c.t.Fatalf("clustertest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Do(ctx, c.Servers[0], http.MethodPost, "/api/v1/apps/import", data, nil); err != nil {
		c.t.Fatalf("clustertest: import %s: %v", file, err)
	}
	for _, s := range c.Servers {
		if !s.Running() {
			continue
		}
		for {
			var flows []struct {
				APIPath string `json:"api_path"`
			}
			err := c.Do(ctx, s, http.MethodGet, "/api/v1/flows", nil, &flows)
			found := false
			for _, f := range flows {
				found = found || f.APIPath == apiPath
			}
			if found {
				break
			}
			if ctx.Err() != nil {
				c.t.Fatalf("clustertest: %s does not list flow %q 30 s after the import (last error: %v)", s, apiPath, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// Filed is the answer to filing a ticket.
type Filed struct {
	ID int64  `json:"id"`
	No string `json:"no"`
}

// FileTicket files a ticket in flow (id or api_path) through node n.
func (c *Cluster) FileTicket(ctx context.Context, n *Node, flow string, fields map[string]any) (Filed, error) {
	var f Filed
	err := c.Do(ctx, n, http.MethodPost, "/api/v1/flows/"+flow+"/tickets", map[string]any{"fields": fields}, &f)
	return f, err
}

// Status reads GET /api/v1/cluster from server n.
func (c *Cluster) Status(ctx context.Context, n *Node) (cluster.Status, error) {
	var st cluster.Status
	err := c.Do(ctx, n, http.MethodGet, "/api/v1/cluster", nil, &st)
	return st, err
}

// WaitStatus polls /api/v1/cluster on the running, unpaused servers until
// ok holds for the answer of one of them, and returns that answer.
func (c *Cluster) WaitStatus(timeout time.Duration, what string, ok func(cluster.Status) bool) cluster.Status {
	c.t.Helper()
	st, err := c.waitStatus(timeout, ok)
	if err != nil {
		c.t.Fatalf("clustertest: waiting %s for %s: %v", timeout, what, err)
	}
	return st
}

func (c *Cluster) waitStatus(timeout time.Duration, ok func(cluster.Status) bool) (cluster.Status, error) {
	deadline := time.Now().Add(timeout)
	var last cluster.Status
	var lastErr error = errors.New("no server running")
	for {
		for _, s := range c.Servers {
			if !s.Running() || s.isPaused() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			st, err := c.Status(ctx, s)
			cancel()
			if err != nil {
				lastErr = err
				continue
			}
			if ok(st) {
				return st, nil
			}
			last, lastErr = st, nil
		}
		if time.Now().After(deadline) {
			if lastErr != nil {
				return last, lastErr
			}
			b, _ := json.Marshal(last)
			return last, fmt.Errorf("last status: %s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitActive waits until a server reports an active booster, and returns
// the status and the booster node.
func (c *Cluster) WaitActive(timeout time.Duration) (cluster.Status, *Node) {
	c.t.Helper()
	st := c.WaitStatus(timeout, "an active booster", func(st cluster.Status) bool {
		return st.ActiveBooster != "" && c.BoosterAt(st.ActiveBooster) != nil
	})
	return st, c.BoosterAt(st.ActiveBooster)
}

// WaitStable waits until every running node of the cluster is an alive
// member and one of its boosters is active, and returns the status and the
// active booster.
func (c *Cluster) WaitStable(timeout time.Duration) (cluster.Status, *Node) {
	c.t.Helper()
	st := c.WaitStatus(timeout, "every node alive and one booster active", func(st cluster.Status) bool {
		if st.ActiveBooster == "" || c.BoosterAt(st.ActiveBooster) == nil {
			return false
		}
		for _, n := range c.Nodes() {
			if !n.Running() {
				continue
			}
			m, ok := Member(st, n)
			if !ok || m.State != cluster.StateAlive {
				return false
			}
		}
		return true
	})
	return st, c.BoosterAt(st.ActiveBooster)
}

// OneActive checks that at most one member is marked active and that it
// is the active booster of the status.
func OneActive(st cluster.Status) error {
	var active []string
	for _, m := range st.Members {
		if m.Active {
			active = append(active, m.Name)
			if m.Role != cluster.RoleBooster || m.Address != st.ActiveBooster {
				return fmt.Errorf("member %s (%s %s) is marked active but the active booster is %q", m.Name, m.Role, m.Address, st.ActiveBooster)
			}
		}
	}
	if len(active) > 1 {
		return fmt.Errorf("%d members are marked active: %v", len(active), active)
	}
	return nil
}

// BoosterAt returns the booster whose cluster address is addr.
func (c *Cluster) BoosterAt(addr string) *Node {
	for _, b := range c.Boosters {
		if b.Addr() == addr {
			return b
		}
	}
	return nil
}

// Member returns the member line of node n (found by its cluster
// address), if any.
func Member(st cluster.Status, n *Node) (cluster.MemberStatus, bool) {
	for _, m := range st.Members {
		if m.Address == n.Addr() {
			return m, true
		}
	}
	return cluster.MemberStatus{}, false
}

// BoosterState reads /healthz on a booster's BOOSTER_HTTP_PORT: whether
// it is the active booster, and the epoch of its current or last term.
func (c *Cluster) BoosterState(ctx context.Context, b *Node) (active bool, epoch int64, err error) {
	var h struct {
		Active bool  `json:"active"`
		Epoch  int64 `json:"epoch"`
	}
	err = c.Do(ctx, b, http.MethodGet, "/healthz", nil, &h)
	return h.Active, h.Epoch, err
}

// WaitActiveBooster polls the running boosters' /healthz until exactly one
// says it is active, and returns it with its epoch. Unlike the servers'
// status (gossip metadata), this is the boosters' own word, so it is the
// one to use right before taking the active booster down.
func (c *Cluster) WaitActiveBooster(timeout time.Duration) (*Node, int64) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var active []*Node
		var epoch int64
		for _, b := range c.Boosters {
			if !b.Running() || b.isPaused() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			on, e, err := c.BoosterState(ctx, b)
			cancel()
			if err == nil && on {
				active, epoch = append(active, b), e
			}
		}
		if len(active) == 1 {
			return active[0], epoch
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("clustertest: %d boosters say they are active after %s (want exactly one)", len(active), timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
