package clustertest

import (
	"testing"
	"time"

	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

// TestServersWithoutBooster: three servers in cluster mode whose boosters
// never start keep filing and advancing tickets by claiming jobs from the
// database themselves (degraded mode), and say so in their logs.
func TestServersWithoutBooster(t *testing.T) {
	needEngine(t, store.Postgres)
	c := New(t, Options{Binary: binary(t), DB: storetest.Options(t, store.Postgres)})
	c.StartServers()
	c.Login()
	c.ImportApp(relayApp(), RelayFlow)
	n := ticketsPerScenario() / 4
	scenario(t, c, "alone", n, 0, func(*Load) {})
	for _, s := range c.Servers {
		s.WaitLog(0, 15*time.Second, "no booster reachable: claiming jobs from the database (degraded mode)")
	}
}
