package standalone

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Client calls the REST API over keep-alive connections.
type Client struct {
	base  string
	hc    *http.Client
	token string
}

// NewClient returns a client that keeps up to conns connections open.
func NewClient(base string, conns int) *Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &Client{base: base, hc: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// WithConns returns a client sharing c's token but with its own
// connections.
func (c *Client) WithConns(conns int) *Client {
	n := NewClient(c.base, conns)
	n.token = c.token
	return n
}

// Close drops idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// APIError is a response with an unexpected status.
type APIError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// do sends a request and decodes a JSON answer into out (when not nil). It
// returns an *APIError when the status is not want.
func (c *Client) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return &APIError{Method: method, Path: path, Status: resp.StatusCode, Body: snippet(data)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// Login gets a bearer token for user.
func (c *Client) Login(ctx context.Context, user, password string) error {
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	var out struct {
		Token string `json:"token"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/login", body, http.StatusOK, &out); err != nil {
		return fmt.Errorf("log in as %s: %w", user, err)
	}
	if out.Token == "" {
		return fmt.Errorf("log in as %s: no token in the answer", user)
	}
	c.token = out.Token
	return nil
}

// ImportedFlow is one flow of an import's answer.
type ImportedFlow struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Version int    `json:"version"`
	APIPath string `json:"api_path"`
}

// ImportApp imports an app export and returns its flows.
func (c *Client) ImportApp(ctx context.Context, export []byte) ([]ImportedFlow, error) {
	var out struct {
		Flows []ImportedFlow `json:"flows"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/apps/import", export, http.StatusCreated, &out); err != nil {
		return nil, fmt.Errorf("import app: %w", err)
	}
	return out.Flows, nil
}

// FileTicket files one ticket; body is the request JSON ({"fields":{...}}).
func (c *Client) FileTicket(ctx context.Context, flowRef string, body []byte) error {
	return c.do(ctx, http.MethodPost, "/api/v1/flows/"+flowRef+"/tickets", body, http.StatusCreated, nil)
}

// Metrics scrapes /metrics and returns each sample by its name with labels
// as written ("omflow_jobs{state=\"ready\"}").
func (c *Client) Metrics(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape metrics: status %d", resp.StatusCode)
	}
	return ParseMetrics(resp.Body)
}

// ParseMetrics reads the Prometheus text format: "name{labels} value" lines.
func ParseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		name, val := strings.TrimSpace(line[:i]), line[i+1:]
		// A timestamp may follow the value.
		if j := strings.LastIndexByte(name, ' '); j >= 0 && !strings.HasSuffix(name, "}") {
			name, val = strings.TrimSpace(name[:j]), name[j+1:]
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		out[name] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return out, nil
}
