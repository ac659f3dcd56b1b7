package standalone

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ServerOptions say how to start the omflow binary.
type ServerOptions struct {
	Binary string
	// Dir holds the data directory and the server's log file.
	Dir string
	// Settings are OMFLOW_<KEY> values (key without the prefix). HTTP_IP,
	// HTTP_PORT and DATA_DIR are set by StartServer.
	Settings map[string]string
	// Env is extra environment (GODEBUG=..., the profiling address).
	Env []string
}

// Server is a running omflow process.
type Server struct {
	URL     string
	LogPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// StartServer starts the binary as a standalone server on a free loopback
// port and waits until /readyz answers 200.
func StartServer(ctx context.Context, o ServerOptions) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("server dir: %w", err)
	}
	set := map[string]string{
		"ROLE": "server", "HTTP_IP": "127.0.0.1", "HTTP_PORT": strconv.Itoa(port),
		"DATA_DIR": filepath.Join(o.Dir, "data"),
	}
	for k, v := range o.Settings {
		set[k] = v
	}
	env := []string{}
	for _, kv := range os.Environ() {
		// Settings of the caller's shell must not leak into the run.
		if !strings.HasPrefix(kv, "OMFLOW_") {
			env = append(env, kv)
		}
	}
	for k, v := range set {
		env = append(env, "OMFLOW_"+k+"="+v)
	}
	env = append(env, o.Env...)
	logPath := filepath.Join(o.Dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("server log: %w", err)
	}
	cmd := exec.Command(o.Binary)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = env, o.Dir, logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", o.Binary, err)
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), LogPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	if err := s.waitReady(ctx, 2*time.Minute); err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz", nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("omflow exited during start-up (%v); log %s:\n%s", s.waitErr, s.LogPath, s.LogTail(20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("omflow not ready after %s; log %s:\n%s", limit, s.LogPath, s.LogTail(20))
		}
	}
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// LogTail returns the last n lines of the server's log.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Stop sends SIGTERM and waits for a clean exit (status 0).
func (s *Server) Stop(timeout time.Duration) error {
	select {
	case <-s.exited:
		return fmt.Errorf("omflow had already exited: %v", s.waitErr)
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop omflow: %w", err)
	}
	select {
	case <-s.exited:
		if s.waitErr != nil {
			return fmt.Errorf("omflow did not stop cleanly: %w; log:\n%s", s.waitErr, s.LogTail(10))
		}
		return nil
	case <-time.After(timeout):
		s.kill()
		return fmt.Errorf("omflow did not stop within %s after SIGTERM; killed", timeout)
	}
}

func (s *Server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// ProcStatus reads a "kB" field of /proc/<pid>/status (VmHWM, VmRSS) in bytes.
func (s *Server) ProcStatus(field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.Pid()))
	if err != nil {
		return 0, fmt.Errorf("read process status: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != field {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			break
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("process status %s: %w", field, err)
		}
		return n * 1024, nil
	}
	return 0, fmt.Errorf("process status has no %s", field)
}

// ResetPeakRSS sets the process's peak resident size (VmHWM) back to its
// current size, so the next reading is the peak of the next run.
func (s *Server) ResetPeakRSS() error {
	err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.Pid()), []byte("5"), 0)
	if err != nil {
		return fmt.Errorf("reset peak RSS: %w", err)
	}
	return nil
}

// CPUTime is the user plus system CPU time the server has used.
func (s *Server) CPUTime() (time.Duration, error) { return ProcessCPU(s.Pid()) }

// ProcessCPU reads utime+stime of a process from /proc/<pid>/stat.
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// clockTick is USER_HZ, 100 on every Linux platform Go supports.
const clockTick = 100

func parseStatCPU(stat string) (time.Duration, error) {
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat line")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc stat line")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat times")
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}
