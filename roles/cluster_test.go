package roles

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omflow/omflow/config"
	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

func freePort(t *testing.T, ip string) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if pc, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port))); err == nil {
			_ = pc.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A booster and a server, wired as the binary wires them, on PostgreSQL:
// the server's jobs are dispatched by the booster (its engine does not
// poll), and when the booster stops the server goes on alone.
func TestServerInClusterMode(t *testing.T) {
	o := storetest.Options(t, store.Postgres)
	db, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	key, err := config.GenerateClusterKey()
	if err != nil {
		t.Fatal(err)
	}
	base := config.Defaults()
	base.DBEngine, base.DBHost, base.DBPort, base.DBName, base.DBUser, base.DBParams = config.EnginePostgres, o.Host, o.Port, o.Name, o.User, o.Params
	base.ClusterKey, base.BoosterIP, base.BoosterPort = key, "127.0.0.61", freePort(t, "127.0.0.61")
	base.DataDir = t.TempDir()

	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	bc := base
	bc.Role, bc.NodeName, bc.LocalIP, bc.LocalPort = config.RoleBooster, "b1", base.BoosterIP, base.BoosterPort
	if err := bc.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := StartBooster(ctx, bc, log.With("node", "b1"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()

	sc := base
	sc.Role, sc.NodeName, sc.LocalIP, sc.LocalPort = config.RoleServer, "s1", "127.0.0.62", freePort(t, "127.0.0.62")
	sc.HTTPIP, sc.HTTPPort, sc.Workers, sc.AdminPassword = "127.0.0.62", freePort(t, "127.0.0.62"), 2, "admin-pass-1234"
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := StartServer(ctx, sc, log.With("node", "s1"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if s.Engine.Polling() {
		t.Fatal("a server in cluster mode must not poll while a booster may dispatch")
	}
	waitFor(t, 5*time.Second, "the server to reach the booster", func() bool {
		_, _, ok := s.Cluster.Client().Booster()
		return ok
	})

	app, err := os.ReadFile(filepath.Join("..", "bench", "testdata", "minimal.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Engine.ImportApp(ctx, flow.System, app); err != nil {
		t.Fatal(err)
	}
	fileAndWait := func(title string) {
		t.Helper()
		f, err := s.Engine.FileTicket(ctx, flow.System, "bench", map[string]any{"FORMITM_1": title})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "ticket "+f.No+" to reach its form step", func() bool {
			tasks, err := s.Engine.Tasks(ctx, flow.System, true)
			if err != nil {
				t.Fatal(err)
			}
			for _, task := range tasks {
				if task.TicketID == f.ID {
					return true
				}
			}
			return false
		})
	}
	fileAndWait("dispatched")
	if s.Engine.Polling() || s.Cluster.Client().Degraded() {
		t.Fatal("the ticket advanced, but not by the booster's dispatch")
	}
	if !strings.Contains(logs.String(), "booster: first dispatch of this term") {
		t.Fatal("the booster did not dispatch")
	}
	st := s.Cluster.Status()
	if st.Mode != "cluster" || st.ActiveBooster != bc.LocalAddr() || len(st.Members) != 2 {
		t.Fatalf("status %+v", st)
	}

	// The booster goes away: the server claims jobs itself.
	b.Stop()
	waitFor(t, 5*time.Second, "degraded mode", func() bool { return s.Engine.Polling() && s.Cluster.Client().Degraded() })
	fileAndWait("degraded")
	for _, line := range []string{"became active booster", "lost active booster role",
		"no booster reachable: claiming jobs from the database (degraded mode)", "booster " + bc.LocalAddr() + " is active: dispatch resumed"} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("log line %q missing", line)
		}
	}
}
