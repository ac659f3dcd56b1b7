package elect_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omflow/omflow/cluster/elect"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

var _ elect.LeaseStore = (*store.Lease)(nil)

// crashable cuts a booster off from the database, as a crash or a network
// partition would: every call fails.
type crashable struct {
	elect.LeaseStore
	down atomic.Bool
}

var errCut = errors.New("cut off from the database")

func (c *crashable) Elect(ctx context.Context, h string, ttl time.Duration) (int64, bool, error) {
	if c.down.Load() {
		return 0, false, errCut
	}
	return c.LeaseStore.Elect(ctx, h, ttl)
}

func (c *crashable) Renew(ctx context.Context, h string, e int64, ttl time.Duration) (bool, error) {
	if c.down.Load() {
		return false, errCut
	}
	return c.LeaseStore.Renew(ctx, h, e, ttl)
}

func (c *crashable) Resign(ctx context.Context, h string, e int64) error {
	if c.down.Load() {
		return errCut
	}
	return c.LeaseStore.Resign(ctx, h, e)
}

type booster struct {
	e     *elect.Elector
	sig   *elect.Signals
	store *crashable
}

func startBooster(t *testing.T, db *store.DB, holder string, preferred bool) *booster {
	t.Helper()
	cs := &crashable{LeaseStore: db.Lease(store.BoosterLeaseName)}
	sig := elect.NewSignals()
	e, err := elect.New(elect.Config{
		Holder: holder, Store: cs, Preferred: preferred, Signals: sig,
		TTL: 600 * time.Millisecond, RenewEvery: 100 * time.Millisecond, SafetyMargin: 150 * time.Millisecond,
		AttemptEvery: 50 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	return &booster{e: e, sig: sig, store: cs}
}

func gained(t *testing.T, b *booster, within time.Duration) elect.Term {
	t.Helper()
	select {
	case term := <-b.sig.Gained:
		return term
	case <-time.After(within):
		t.Fatalf("not active within %v", within)
	}
	return elect.Term{}
}

// Two electors on one real database: one active; a clean stop hands over
// at once; a booster cut off from the database steps down and the other
// takes over after the lease expires, with a higher epoch.
func TestElectorsOnRealDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b1 := startBooster(t, db, "127.0.0.2:5169", true)
		t1 := gained(t, b1, 3*time.Second)
		b2 := startBooster(t, db, "127.0.0.3:5169", false)
		select {
		case term := <-b2.sig.Gained:
			t.Fatalf("second booster active too: %v", term)
		case <-time.After(800 * time.Millisecond): // longer than the TTL: renewals keep b1
		}

		// Clean stop: b2 takes over well before the TTL would run out.
		start := time.Now()
		b1.e.Stop()
		b2.e.Poke() // what the gossip event "b1 left" does in the booster role
		t2 := gained(t, b2, 3*time.Second)
		t.Logf("%s: clean handover took %v", db.Engine(), time.Since(start))
		if t2.Epoch <= t1.Epoch {
			t.Errorf("epoch after handover %d, want > %d", t2.Epoch, t1.Epoch)
		}

		// b2 is cut off: it steps down by its trust window, and b3 takes
		// over once the lease has expired by the database clock.
		b3 := startBooster(t, db, "127.0.0.4:5169", false)
		start = time.Now()
		b2.store.down.Store(true)
		select {
		case <-b2.sig.Lost:
		case <-time.After(2 * time.Second):
			t.Fatal("cut-off booster did not step down")
		}
		lostAfter := time.Since(start)
		t3 := gained(t, b3, 3*time.Second)
		t.Logf("%s: cut-off active stepped down after %v, new active after %v", db.Engine(), lostAfter, time.Since(start))
		if lostAfter > 600*time.Millisecond {
			t.Errorf("stepped down after %v, want within the TTL", lostAfter)
		}
		if t3.Epoch <= t2.Epoch {
			t.Errorf("epoch %d after takeover, want > %d", t3.Epoch, t2.Epoch)
		}
		if _, ok := b2.e.Term(); ok {
			t.Error("cut-off booster still thinks it is active")
		}
	})
}
