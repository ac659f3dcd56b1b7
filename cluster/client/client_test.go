package client

import (
	"slices"
	"strings"
	"testing"

	"github.com/omflow/omflow/cluster"
	"github.com/omflow/omflow/cluster/gossip"
)

type nopEngine struct{}

func (nopEngine) Submit(int64) bool { return true }
func (nopEngine) Load() int         { return 0 }
func (nopEngine) SetPolling(bool)   {}
func (nopEngine) Wake()             {}

type fakeMembers []gossip.Member

func (f fakeMembers) Members() []gossip.Member { return f }
func (f fakeMembers) Subscribe(int) (<-chan gossip.Event, func()) {
	ch := make(chan gossip.Event)
	return ch, func() {}
}

func validConfig() Config {
	return Config{Key: make([]byte, cluster.KeySize), Boosters: []string{"10.0.0.1:5169", "10.0.0.2:5169"},
		Name: "s@10.0.0.3:5169", Address: "10.0.0.3:5169", Capacity: 4, Engine: nopEngine{}}
}

func TestNewChecksConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		mod  func(*Config)
		want string
	}{
		"key":      {func(c *Config) { c.Key = nil }, "key"},
		"boosters": {func(c *Config) { c.Boosters = nil }, "BOOSTER_IP"},
		"engine":   {func(c *Config) { c.Engine = nil }, "Engine"},
		"name":     {func(c *Config) { c.Name = "" }, "Name"},
		"capacity": {func(c *Config) { c.Capacity = 0 }, "capacity"},
	} {
		cfg := validConfig()
		tc.mod(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one that names %s", name, err, tc.want)
		}
	}
	c, err := New(validConfig())
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.DegradedAfter != DefaultDegradedAfter || c.cfg.ConnectTimeout != DefaultConnectTimeout || c.cfg.Silence != DefaultSilence {
		t.Fatalf("defaults not filled: %+v", c.cfg)
	}
}

// The booster gossip announces active comes first, boosters gossip reports
// dead are left out, and with nothing known the settings' order is kept.
func TestCandidates(t *testing.T) {
	c, err := New(validConfig())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.candidates(""); !slices.Equal(got, []string{"10.0.0.1:5169", "10.0.0.2:5169"}) {
		t.Fatalf("no gossip: %v", got)
	}
	if got := c.candidates("10.0.0.9:5169"); got[0] != "10.0.0.9:5169" || len(got) != 3 {
		t.Fatalf("redirect first: %v", got)
	}
	booster := func(addr string, st cluster.MemberState, active bool, epoch int64) gossip.Member {
		return gossip.Member{Name: addr, Addr: addr, State: st, Meta: gossip.Meta{Role: cluster.RoleBooster, Active: active, Epoch: epoch}}
	}
	c.cfg.Members = fakeMembers{booster("10.0.0.1:5169", cluster.StateDead, true, 4), booster("10.0.0.2:5169", cluster.StateAlive, true, 5)}
	if got := c.candidates(""); !slices.Equal(got, []string{"10.0.0.2:5169"}) {
		t.Fatalf("active second booster, first dead: %v", got)
	}
	c.cfg.Members = fakeMembers{booster("10.0.0.1:5169", cluster.StateLeft, false, 4), booster("10.0.0.2:5169", cluster.StateDead, false, 5)}
	if got := c.candidates(""); !slices.Equal(got, []string{"10.0.0.1:5169", "10.0.0.2:5169"}) {
		t.Fatalf("both down: %v; want both tried in the settings' order", got)
	}
}
