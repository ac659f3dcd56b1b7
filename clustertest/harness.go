// Package clustertest runs real omflow processes — boosters and servers of
// one Booster cluster — on 127.0.0.x addresses against a real database, and
// kills, pauses and restarts them. It is the harness of the multi-process
// tests in this directory and of the failover benchmarks in bench/cluster.
//
// Set OMFLOW_CLUSTERTEST_KEEP=1 to keep the logs of passing tests too.
//
// Everything stays on loopback. Every process runs in its own process group
// with a parent-death signal, and is killed at cleanup, also when a test
// panics or times out. Each node logs to its own file; the files are kept
// (and their tails printed) when the test failed.
package clustertest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/omflow/omflow/store"
)

// TB is the part of testing.TB the harness uses, so that benchmarks
// outside `go test` can drive it too. *testing.T satisfies it.
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	Failed() bool
}

// BuildBinary compiles the omflow binary of the module this package belongs
// to into dir and returns its path. Build it once per test run (TestMain).
func BuildBinary(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "omflow")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "github.com/omflow/omflow")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build omflow: %w\n%s", err, b)
	}
	return out, nil
}

// NewClusterKey returns a fresh CLUSTER_KEY (base64 of 32 random bytes).
func NewClusterKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// Options describe a cluster to start.
type Options struct {
	Binary string        // the omflow binary (BuildBinary)
	DB     store.Options // a fresh, empty database or schema; the harness migrates it
	Key    string        // CLUSTER_KEY; "" = NewClusterKey()
	// BoosterIPs are the addresses of the boosters, preferred first (0, 1
	// or 2 of them; default 127.0.0.2 and 127.0.0.3). Set NoBoosters for a
	// cluster-mode configuration whose boosters are never started.
	BoosterIPs []string
	ServerIPs  []string // default 127.0.0.4, .5, .6
	// BoosterAddrs overrides the BOOSTER/SECOND_BOOSTER pair written into
	// every node's settings (default: the boosters of this cluster).
	BoosterAddrs []string
	Workers      int               // WORKERS of each server; default 8
	AdminPass    string            // OMFLOW_ADMIN_PASSWORD of the first server; default generated
	Env          map[string]string // extra OMFLOW_* settings for every node
	Dir          string            // where node directories and logs go; default a new temp dir
	LogLevel     string            // LOG_LEVEL; default info
	// Name prefixes node names (NODE_NAME), so two clusters on one machine
	// have distinct names; default "".
	Name string
}

// Cluster is a set of omflow processes sharing one database.
type Cluster struct {
	// t gets the failures (the test or subtest now running, see Bind);
	// root owns what lives as long as the cluster (processes, databases).
	t, root TB
	opts    Options
	Dir     string
	Key     string

	Boosters []*Node
	Servers  []*Node

	// Token is the administrator's API token after Login.
	Token string

	httpc *http.Client
	db    *store.DB
	sqldb *sql.DB
}

// New prepares a cluster: node directories, free ports and the migrated
// database. It starts nothing; call Start (or start nodes one by one).
func New(t TB, o Options) *Cluster {
	t.Helper()
	if o.Binary == "" {
		t.Fatalf("clustertest: Options.Binary is empty (build it with BuildBinary)")
	}
	if o.Key == "" {
		o.Key = NewClusterKey()
	}
	if o.BoosterIPs == nil {
		o.BoosterIPs = []string{"127.0.0.2", "127.0.0.3"}
	}
	if o.ServerIPs == nil {
		o.ServerIPs = []string{"127.0.0.4", "127.0.0.5", "127.0.0.6"}
	}
	if o.Workers == 0 {
		o.Workers = 8
	}
	if o.AdminPass == "" {
		o.AdminPass = "Adm1n-" + base64.RawURLEncoding.EncodeToString([]byte(NewClusterKey()))[:16]
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	dir := o.Dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "omflow-cluster-*"); err != nil {
			t.Fatalf("clustertest: temp dir: %v", err)
		}
	}
	c := &Cluster{t: t, root: t, opts: o, Dir: dir, Key: o.Key, httpc: newHTTPClient()}
	// Registered before any process starts, so it runs after every kill
	// (cleanups run last-in first-out).
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("OMFLOW_CLUSTERTEST_KEEP") != "" {
			t.Logf("clustertest: node logs kept in %s", dir)
			return
		}
		if o.Dir == "" {
			_ = os.RemoveAll(dir)
		}
	})
	for i, ip := range o.BoosterIPs {
		c.Boosters = append(c.Boosters, c.newNode(fmt.Sprintf("%sb%d", o.Name, i+1), "booster", ip))
	}
	for i, ip := range o.ServerIPs {
		c.Servers = append(c.Servers, c.newNode(fmt.Sprintf("%ss%d", o.Name, i+1), "server", ip))
	}
	for _, n := range c.Nodes() {
		n := n
		t.Cleanup(func() { n.cleanup(t) })
	}
	c.Migrate()
	return c
}

// Bind makes failures of the harness go to t (a subtest) until the
// returned function is called:
//
//	t.Run("a", func(t *testing.T) { defer c.Bind(t)(); ... })
//
// Processes and database handles still belong to the test that made the
// cluster; nodes added by ExtraNode meanwhile are killed when t ends.
func (c *Cluster) Bind(t TB) (restore func()) {
	prev := c.t
	c.t = t
	return func() { c.t = prev }
}

// Nodes returns the boosters followed by the servers.
func (c *Cluster) Nodes() []*Node {
	return append(append([]*Node(nil), c.Boosters...), c.Servers...)
}

// ExtraNode adds a node that is not one of the cluster's boosters or
// servers (not used by Start, loads or status polls) but gets the same
// settings; set its Env before starting it. It is killed at cleanup.
func (c *Cluster) ExtraNode(name, role, ip string) *Node {
	c.t.Helper()
	n := c.newNode(c.opts.Name+name, role, ip)
	t := c.t
	t.Cleanup(func() { n.cleanup(t) })
	return n
}

// SetBoosterAddrs changes the BOOSTER, SECOND_BOOSTER pair given to nodes
// started from now on.
func (c *Cluster) SetBoosterAddrs(addrs ...string) { c.opts.BoosterAddrs = addrs }

// BoosterAddrs is the BOOSTER, SECOND_BOOSTER pair every node is given.
func (c *Cluster) BoosterAddrs() []string {
	if c.opts.BoosterAddrs != nil {
		return c.opts.BoosterAddrs
	}
	var out []string
	for _, b := range c.Boosters {
		out = append(out, b.Addr())
	}
	return out
}

func (c *Cluster) newNode(name, role, ip string) *Node {
	c.t.Helper()
	dir := filepath.Join(c.Dir, name)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		c.t.Fatalf("clustertest: %v", err)
	}
	conf := filepath.Join(dir, "omflow.conf")
	if err := os.WriteFile(conf, []byte("# settings come from OMFLOW_* variables (clustertest)\n"), 0o644); err != nil {
		c.t.Fatalf("clustertest: %v", err)
	}
	n := &Node{c: c, Name: name, Role: role, IP: ip, Dir: dir, LogPath: filepath.Join(dir, "omflow.log"), conf: conf}
	n.Port = freePort(c.t, ip, true)
	n.HTTPPort = freePort(c.t, ip, false)
	return n
}

// Env returns the settings of node n as OMFLOW_* variables (before
// Options.Env and the node's own overrides are applied).
func (c *Cluster) baseEnv(n *Node) map[string]string {
	db := c.opts.DB
	env := map[string]string{
		"OMFLOW_CONFIG":      n.conf,
		"OMFLOW_ROLE":        n.Role,
		"OMFLOW_NODE_NAME":   n.Name,
		"OMFLOW_LOCAL_IP":    n.IP,
		"OMFLOW_LOCAL_PORT":  strconv.Itoa(n.Port),
		"OMFLOW_HTTP_IP":     n.IP,
		"OMFLOW_DATA_DIR":    filepath.Join(n.Dir, "data"),
		"OMFLOW_LOG_LEVEL":   c.opts.LogLevel,
		"OMFLOW_CLUSTER_KEY": c.Key,
		"OMFLOW_DB_ENGINE":   string(db.Engine),
		"OMFLOW_DB_HOST":     db.Host,
		"OMFLOW_DB_PORT":     strconv.Itoa(db.Port),
		"OMFLOW_DB_NAME":     db.Name,
		"OMFLOW_DB_USER":     db.User,
		"OMFLOW_DB_PASSWORD": db.Password,
		"OMFLOW_DB_PARAMS":   db.Params,
		"OMFLOW_WORKERS":     strconv.Itoa(c.opts.Workers),
	}
	if db.Engine == store.Postgres && !strings.Contains(db.Params, "application_name=") {
		// pg_stat_activity then says which node holds which connections.
		env["OMFLOW_DB_PARAMS"] = strings.TrimPrefix(db.Params+"&application_name=omflow-"+n.Name, "&")
	}
	addrs := c.BoosterAddrs()
	if len(addrs) > 0 {
		h, p, _ := net.SplitHostPort(addrs[0])
		env["OMFLOW_BOOSTER_IP"], env["OMFLOW_BOOSTER_PORT"] = h, p
	}
	if len(addrs) > 1 {
		h, p, _ := net.SplitHostPort(addrs[1])
		env["OMFLOW_SECOND_BOOSTER_IP"], env["OMFLOW_SECOND_BOOSTER_PORT"] = h, p
	}
	if n.Role == "booster" {
		env["OMFLOW_BOOSTER_HTTP_PORT"] = strconv.Itoa(n.HTTPPort)
	} else {
		env["OMFLOW_HTTP_PORT"] = strconv.Itoa(n.HTTPPort)
	}
	if len(c.Servers) > 0 && n == c.Servers[0] {
		env["OMFLOW_ADMIN_PASSWORD"] = c.opts.AdminPass
	}
	for k, v := range c.opts.Env {
		env[k] = v
	}
	for k, v := range n.Env {
		env[k] = v
	}
	return env
}

// environ builds a process environment: this process's environment without
// any OMFLOW_* variable, plus env.
func environ(env map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OMFLOW_") {
			out = append(out, kv)
		}
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// Migrate runs `omflow db migrate` with the cluster's database settings.
func (c *Cluster) Migrate() {
	c.t.Helper()
	// The ports are only validated, never opened, by `db migrate`.
	n := &Node{c: c, Name: "migrate", Role: "server", IP: "127.0.0.1", Port: 5169, HTTPPort: 8080, Dir: c.Dir, conf: filepath.Join(c.Dir, "migrate.conf")}
	if err := os.WriteFile(n.conf, nil, 0o644); err != nil {
		c.t.Fatalf("clustertest: %v", err)
	}
	env := c.baseEnv(n)
	delete(env, "OMFLOW_ADMIN_PASSWORD")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.opts.Binary, "db", "migrate")
	cmd.Env = environ(env)
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("clustertest: omflow db migrate: %v\n%s", err, out)
	}
}

// Start starts the boosters, then the servers (StartServers), and waits
// until every node answers /healthz. BOOSTER starts first and is active
// before SECOND_BOOSTER starts, as in the recommended start order, so no
// hand back to the preferred booster follows.
func (c *Cluster) Start() {
	c.t.Helper()
	for i, b := range c.Boosters {
		b.Start()
		b.WaitHealthy(30 * time.Second)
		if i == 0 {
			if a, _ := c.WaitActiveBooster(30 * time.Second); a != b {
				c.t.Fatalf("clustertest: %s is active, not the first booster %s", a, b)
			}
		}
	}
	c.StartServers()
}

// StartServers starts the first server (which creates the administrator),
// then the other servers, and waits until each answers /healthz.
func (c *Cluster) StartServers() {
	c.t.Helper()
	if len(c.Servers) == 0 {
		return
	}
	c.Servers[0].Start()
	c.Servers[0].WaitHealthy(60 * time.Second)
	for _, s := range c.Servers[1:] {
		s.Start()
	}
	for _, s := range c.Servers[1:] {
		s.WaitHealthy(60 * time.Second)
	}
}

// Node is one omflow process (started, stopped and restarted any number
// of times) with its own directory, ports and log file.
type Node struct {
	c        *Cluster
	Name     string
	Role     string // "booster" or "server"
	IP       string
	Port     int // LOCAL_PORT, TCP and UDP
	HTTPPort int // HTTP_PORT of a server, BOOSTER_HTTP_PORT of a booster
	Dir      string
	LogPath  string
	// Env overrides settings of this node only (set before Start).
	Env  map[string]string
	conf string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	exitErr error
	paused  bool
	starts  int
	downAt  time.Time // last SIGKILL, SIGTERM or SIGSTOP
	ready   bool      // answered /healthz since its last start
}

// Addr is the node's cluster address, LOCAL_IP:LOCAL_PORT.
func (n *Node) Addr() string { return net.JoinHostPort(n.IP, strconv.Itoa(n.Port)) }

// URL is the base URL of the node's HTTP port.
func (n *Node) URL() string { return "http://" + net.JoinHostPort(n.IP, strconv.Itoa(n.HTTPPort)) }

func (n *Node) String() string { return n.Name + "(" + n.Role + " " + n.Addr() + ")" }

// Start starts the process. The node must not be running.
func (n *Node) Start() {
	n.c.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil && !n.exitedLocked() {
		n.c.t.Fatalf("clustertest: start %s: already running (pid %d)", n, n.cmd.Process.Pid)
	}
	f, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		n.c.t.Fatalf("clustertest: log of %s: %v", n, err)
	}
	n.starts++
	fmt.Fprintf(f, "=== clustertest: start #%d of %s at %s ===\n", n.starts, n, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(n.c.opts.Binary, "--role="+n.Role)
	cmd.Env = environ(n.c.baseEnv(n))
	cmd.Dir = n.Dir
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group (killed as a whole), and killed by the kernel if
	// the test process dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		n.c.t.Fatalf("clustertest: start %s: %v", n, err)
	}
	exited := make(chan struct{})
	n.cmd, n.exited, n.exitErr, n.paused, n.ready = cmd, exited, nil, false, false
	go func() {
		err := cmd.Wait()
		f.Close()
		n.mu.Lock()
		n.exitErr = err
		n.mu.Unlock()
		close(exited)
	}()
}

func (n *Node) exitedLocked() bool {
	select {
	case <-n.exited:
		return true
	default:
		return false
	}
}

// Running reports whether the process is alive (paused counts as alive).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil && !n.exitedLocked()
}

// PID returns the process id, or 0 when the node is not running.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.exitedLocked() {
		return 0
	}
	return n.cmd.Process.Pid
}

func (n *Node) signal(sig syscall.Signal) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.exitedLocked() {
		return false
	}
	if sig != syscall.SIGCONT {
		n.downAt = time.Now()
	}
	_ = syscall.Kill(-n.cmd.Process.Pid, sig)
	switch sig {
	case syscall.SIGSTOP:
		n.paused = true
	case syscall.SIGCONT, syscall.SIGKILL:
		n.paused = false
	}
	return true
}

// Kill sends SIGKILL to the node's process group and waits for the exit.
func (n *Node) Kill() {
	n.c.t.Helper()
	if !n.signal(syscall.SIGKILL) {
		n.c.t.Fatalf("clustertest: kill %s: not running", n)
	}
	n.waitExit(10 * time.Second)
}

// Stop sends SIGTERM and waits for a clean exit (at most timeout; then it
// kills the process and fails the test).
func (n *Node) Stop(timeout time.Duration) {
	n.c.t.Helper()
	if n.isPaused() {
		n.Resume()
	}
	if !n.signal(syscall.SIGTERM) {
		n.c.t.Fatalf("clustertest: stop %s: not running", n)
	}
	if !n.waitExitOK(timeout) {
		n.signal(syscall.SIGKILL)
		n.waitExit(10 * time.Second)
		n.c.t.Fatalf("clustertest: %s did not stop within %s of SIGTERM; killed\n%s", n, timeout, n.Tail(30))
	}
	n.mu.Lock()
	err := n.exitErr
	n.mu.Unlock()
	if err != nil {
		n.c.t.Fatalf("clustertest: %s exited with %v after SIGTERM\n%s", n, err, n.Tail(30))
	}
}

// Pause sends SIGSTOP; the process keeps its sockets but does nothing.
func (n *Node) Pause() {
	n.c.t.Helper()
	if !n.signal(syscall.SIGSTOP) {
		n.c.t.Fatalf("clustertest: pause %s: not running", n)
	}
}

// Resume sends SIGCONT to a paused node.
func (n *Node) Resume() {
	n.c.t.Helper()
	if !n.signal(syscall.SIGCONT) {
		n.c.t.Fatalf("clustertest: resume %s: not running", n)
	}
}

// recentlyDown reports whether the node is not running or not yet
// healthy since its start, or was killed, stopped or paused within d.
func (n *Node) recentlyDown(d time.Duration) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd == nil || n.exitedLocked() || n.paused || !n.ready || time.Since(n.downAt) < d
}

// serving reports whether the node runs, is not paused and answered
// /healthz since it started: where a load sends requests.
func (n *Node) serving() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil && !n.exitedLocked() && !n.paused && n.ready
}

func (n *Node) isPaused() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.paused
}

// Restart starts a node that was killed or stopped. A running node is
// stopped with SIGTERM first.
func (n *Node) Restart() {
	n.c.t.Helper()
	if n.Running() {
		n.Stop(30 * time.Second)
	}
	n.Start()
}

func (n *Node) waitExitOK(timeout time.Duration) bool {
	n.mu.Lock()
	ch := n.exited
	n.mu.Unlock()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-time.After(timeout):
		return false
	}
}

func (n *Node) waitExit(timeout time.Duration) {
	n.c.t.Helper()
	if !n.waitExitOK(timeout) {
		n.c.t.Fatalf("clustertest: %s did not exit within %s", n, timeout)
	}
}

// Exited returns a channel closed when the current process exits.
func (n *Node) Exited() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.exited
}

// cleanup kills the process group and prints the log tail of a failed test.
func (n *Node) cleanup(t TB) {
	n.mu.Lock()
	if n.cmd != nil && !n.exitedLocked() {
		_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	}
	ch := n.exited
	n.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Logf("clustertest: %s did not exit after SIGKILL", n)
		}
	}
	if t.Failed() && n.starts > 0 {
		t.Logf("clustertest: last lines of %s (%s):\n%s", n, n.LogPath, n.Tail(40))
	}
}

// WaitHealthy waits until GET /healthz on the node's HTTP port answers 200.
// It fails at once, with the log tail, when the process exits meanwhile
// (for example with "role booster is not built yet").
func (n *Node) WaitHealthy(timeout time.Duration) {
	n.c.t.Helper()
	if err := n.waitHealthy(timeout); err != nil {
		n.c.t.Fatalf("clustertest: %v", err)
	}
}

func (n *Node) waitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	exited := n.Exited()
	for {
		if exited == nil {
			return fmt.Errorf("%s was never started", n)
		}
		select {
		case <-exited:
			n.mu.Lock()
			err := n.exitErr
			n.mu.Unlock()
			return fmt.Errorf("%s exited (%v) before it was healthy:\n%s", n, err, n.Tail(20))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+"/healthz", nil)
		resp, err := n.c.httpc.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		if err == nil && resp.StatusCode == http.StatusOK {
			n.mu.Lock()
			n.ready = true
			n.mu.Unlock()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not healthy after %s (last: %v):\n%s", n, timeout, statusOrErr(resp, err), n.Tail(20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func statusOrErr(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}

// Log returns the whole log of the node (all of its starts).
func (n *Node) Log() string {
	b, _ := os.ReadFile(n.LogPath)
	return string(b)
}

// LogSize is the current length of the log; pass it to WaitLog to look
// only at what is written after now.
func (n *Node) LogSize() int64 {
	st, err := os.Stat(n.LogPath)
	if err != nil {
		return 0
	}
	return st.Size()
}

// Tail returns the last lines of the log.
func (n *Node) Tail(lines int) string {
	b, _ := os.ReadFile(n.LogPath)
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return "    " + strings.Join(all, "\n    ")
}

// LogLines returns the lines written at or after offset that contain every
// one of the substrings.
func (n *Node) LogLines(offset int64, substrings ...string) []string {
	f, err := os.Open(n.LogPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(offset, 0); err != nil {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
lines:
	for sc.Scan() {
		line := sc.Bytes()
		for _, s := range substrings {
			if !bytes.Contains(line, []byte(s)) {
				continue lines
			}
		}
		out = append(out, string(line))
	}
	return out
}

// WaitLog waits until a line written at or after offset contains every
// one of the substrings, and returns it.
func (n *Node) WaitLog(offset int64, timeout time.Duration, substrings ...string) string {
	n.c.t.Helper()
	line, err := n.waitLog(offset, timeout, substrings...)
	if err != nil {
		n.c.t.Fatalf("clustertest: %v", err)
	}
	return line
}

func (n *Node) waitLog(offset int64, timeout time.Duration, substrings ...string) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		if l := n.LogLines(offset, substrings...); len(l) > 0 {
			return l[0], nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s logged no line with %q within %s; last lines:\n%s", n, substrings, timeout, n.Tail(25))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort finds a port free on ip for TCP, and for UDP too when udp is set
// (a cluster port needs both).
func freePort(t TB, ip string, udp bool) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatalf("clustertest: listen on %s (is the loopback range 127.0.0.0/8 usable?): %v", ip, err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !udp {
			l.Close()
			return port
		}
		u, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port)))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatalf("clustertest: no free TCP+UDP port on %s", ip)
	return 0
}

// ErrNotRunning is returned by requests to a node whose process is not
// running.
var ErrNotRunning = errors.New("node not running")
