package elect

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type calls struct {
	mu      sync.Mutex
	renews  []Term
	resigns []Term
	elects  int
}

func (c *calls) resigned() []Term {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Term(nil), c.resigns...)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTest returns an elector on a fake clock whose store is mostly given by
// the caller; resigns and renewals are recorded.
func newTest(t *testing.T, cfg Config, store *MockStore) (*Elector, *FakeClock, *Signals, *calls) {
	t.Helper()
	c := &calls{}
	if store.ResignFunc == nil {
		store.ResignFunc = func(_ context.Context, h string, e int64) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.resigns = append(c.resigns, Term{h, e})
			return nil
		}
	}
	inner := store.RenewFunc
	store.RenewFunc = func(ctx context.Context, h string, e int64, ttl time.Duration) (bool, error) {
		c.mu.Lock()
		c.renews = append(c.renews, Term{h, e})
		c.mu.Unlock()
		if inner == nil {
			return true, nil
		}
		return inner(ctx, h, e, ttl)
	}
	innerElect := store.ElectFunc
	store.ElectFunc = func(ctx context.Context, h string, ttl time.Duration) (int64, bool, error) {
		c.mu.Lock()
		c.elects++
		c.mu.Unlock()
		return innerElect(ctx, h, ttl)
	}
	clock := NewFakeClock(t0)
	sig := NewSignals()
	if cfg.Holder == "" {
		cfg.Holder = "127.0.0.2:5169"
	}
	cfg.Store, cfg.Clock, cfg.Signals, cfg.Logger = store, clock, sig, quiet()
	if cfg.TTL == 0 {
		cfg.TTL, cfg.RenewEvery, cfg.SafetyMargin, cfg.AttemptEvery = 1500*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond, 250*time.Millisecond
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	return e, clock, sig, c
}

func recv[T any](t *testing.T, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(2 * time.Second):
		t.Fatalf("no %s signal", what)
	}
	var zero T
	return zero
}

func none[T any](t *testing.T, ch chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s signal: %v", what, v)
	case <-time.After(50 * time.Millisecond):
	}
}

// waitTimers waits until the elector has armed n timers (it is idle).
func waitTimers(t *testing.T, c *FakeClock, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for c.Timers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("elector armed %d timers, want %d", c.Timers(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func electOK(epoch int64) func(context.Context, string, time.Duration) (int64, bool, error) {
	return func(context.Context, string, time.Duration) (int64, bool, error) { return epoch, true, nil }
}

func TestElectRenewAndResignOnStop(t *testing.T) {
	var leadCtx atomic.Value
	leading := make(chan Term, 1)
	e, clock, sig, c := newTest(t, Config{Lead: func(ctx context.Context, term Term) {
		leadCtx.Store(ctx)
		leading <- term
		<-ctx.Done()
	}}, &MockStore{ElectFunc: electOK(7)})

	want := Term{"127.0.0.2:5169", 7}
	if got := recv(t, sig.Gained, "gained"); got != want {
		t.Fatalf("gained %v, want %v", got, want)
	}
	if got := recv(t, leading, "lead"); got != want {
		t.Fatalf("Lead got %v, want %v", got, want)
	}
	if term, ok := e.Term(); !ok || term != want {
		t.Fatalf("Term() = %v, %v", term, ok)
	}
	for i := 0; i < 3; i++ {
		waitTimers(t, clock, 2)
		clock.Advance(300 * time.Millisecond)
		if !recv(t, sig.Renewed, "renewed") {
			t.Fatal("renewal reported failure")
		}
	}
	e.Stop()
	e.Stop()
	if got := recv(t, sig.Lost, "lost"); got != want {
		t.Fatalf("lost %v", got)
	}
	if ctx := leadCtx.Load().(context.Context); ctx.Err() == nil {
		t.Error("Lead's context still open after Stop")
	}
	if r := c.resigned(); len(r) != 1 || r[0] != want {
		t.Errorf("resigned %v, want exactly %v", r, want)
	}
	for _, r := range c.renews {
		if r != want {
			t.Errorf("renewed %v, want only %v", r, want)
		}
	}
	if _, ok := e.Term(); ok {
		t.Error("still active after Stop")
	}
}

func TestStepsDownAtTrustDeadline(t *testing.T) {
	dbDown := errors.New("connection refused")
	_, clock, sig, c := newTest(t, Config{}, &MockStore{
		ElectFunc: electOK(3),
		RenewFunc: func(context.Context, string, int64, time.Duration) (bool, error) { return false, dbDown },
	})
	recv(t, sig.Gained, "gained")
	// Elected at t0: trusted until t0 + 1500ms − 300ms = t0 + 1200ms.
	for i := 0; i < 3; i++ { // renew attempts at +300, +600, +900 fail
		waitTimers(t, clock, 2)
		clock.Advance(300 * time.Millisecond)
		if recv(t, sig.Renewed, "renewed") {
			t.Fatal("failed renewal reported as ok")
		}
		none(t, sig.Lost, "lost")
	}
	waitTimers(t, clock, 2)
	clock.Advance(299 * time.Millisecond) // t0 + 1199ms
	none(t, sig.Lost, "lost")
	clock.Advance(time.Millisecond) // t0 + 1200ms
	recv(t, sig.Lost, "lost")
	if got := clock.Now().Sub(t0); got != 1200*time.Millisecond {
		t.Errorf("stepped down at +%v", got)
	}
	if r := c.resigned(); len(r) != 0 {
		t.Errorf("resigned %v after losing the database; want no resign", r)
	}
}

func TestStepsDownAtOnceWhenRenewRefused(t *testing.T) {
	var refuse atomic.Bool
	_, clock, sig, _ := newTest(t, Config{}, &MockStore{
		ElectFunc: func(context.Context, string, time.Duration) (int64, bool, error) { return 5, !refuse.Load(), nil },
		RenewFunc: func(context.Context, string, int64, time.Duration) (bool, error) { return !refuse.Load(), nil },
	})
	recv(t, sig.Gained, "gained")
	if !recv(t, sig.Attempted, "attempted") {
		t.Fatal("first attempt not reported as won")
	}
	refuse.Store(true)
	waitTimers(t, clock, 2)
	clock.Advance(300 * time.Millisecond)
	if recv(t, sig.Renewed, "renewed") {
		t.Fatal("refused renewal reported ok")
	}
	recv(t, sig.Lost, "lost")
	// Back to standby: it campaigns again at once, without winning.
	if recv(t, sig.Attempted, "attempted") {
		t.Fatal("won while the lease is held by another")
	}
}

func TestStandbyPollsAndPoke(t *testing.T) {
	e, clock, sig, c := newTest(t, Config{}, &MockStore{
		ElectFunc: func(context.Context, string, time.Duration) (int64, bool, error) { return 0, false, nil },
	})
	if recv(t, sig.Attempted, "attempted") {
		t.Fatal("won")
	}
	waitTimers(t, clock, 1)
	e.Poke()
	recv(t, sig.Attempted, "attempted after poke")
	waitTimers(t, clock, 1)
	clock.Advance(249 * time.Millisecond)
	none(t, sig.Attempted, "attempted")
	clock.Advance(time.Millisecond)
	recv(t, sig.Attempted, "attempted after the interval")
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.elects != 3 {
		t.Errorf("%d election attempts, want 3", c.elects)
	}
	none(t, sig.Gained, "gained")
}

func TestHandbackToPreferredWithoutFlapping(t *testing.T) {
	var ready atomic.Bool
	var win atomic.Bool
	win.Store(true)
	_, clock, sig, c := newTest(t, Config{
		PreferredReady: ready.Load,
		HandbackAfter:  time.Second,
		HoldOff:        3 * time.Second,
	}, &MockStore{
		ElectFunc: func(context.Context, string, time.Duration) (int64, bool, error) { return 9, win.Load(), nil },
	})
	recv(t, sig.Gained, "gained")
	recv(t, sig.Attempted, "attempted")
	tick := func() {
		t.Helper()
		waitTimers(t, clock, 2)
		clock.Advance(300 * time.Millisecond)
	}
	// Preferred not ready: stays active.
	tick()
	recv(t, sig.Renewed, "renewed")
	// Ready at +600, not ready at +900: the readiness clock restarts.
	ready.Store(true)
	tick()
	recv(t, sig.Renewed, "renewed")
	ready.Store(false)
	tick()
	recv(t, sig.Renewed, "renewed")
	ready.Store(true)
	tick() // +1200: ready since now
	recv(t, sig.Renewed, "renewed")
	for i := 0; i < 3; i++ { // +1500, +1800, +2100: ready for less than 1s
		tick()
		recv(t, sig.Renewed, "renewed")
		none(t, sig.Lost, "lost")
	}
	tick() // +2400: ready for 1.2s ≥ 1s
	recv(t, sig.Lost, "lost at hand back")
	if r := c.resigned(); len(r) != 1 || r[0].Epoch != 9 {
		t.Fatalf("resigned %v, want term 9", r)
	}
	// Hold-off: no campaign for 3s even though the lease is free.
	c.mu.Lock()
	before := c.elects
	c.mu.Unlock()
	waitTimers(t, clock, 1)
	clock.Advance(2999 * time.Millisecond)
	none(t, sig.Attempted, "attempted during hold-off")
	clock.Advance(time.Millisecond)
	recv(t, sig.Attempted, "attempted after hold-off")
	c.mu.Lock()
	if c.elects != before+1 {
		t.Errorf("%d attempts during and after hold-off, want 1", c.elects-before)
	}
	c.mu.Unlock()
}

func TestPreferredNeverHandsBack(t *testing.T) {
	_, clock, sig, c := newTest(t, Config{Preferred: true, PreferredReady: func() bool { return true }, HandbackAfter: 100 * time.Millisecond},
		&MockStore{ElectFunc: electOK(1)})
	recv(t, sig.Gained, "gained")
	for i := 0; i < 5; i++ {
		waitTimers(t, clock, 2)
		clock.Advance(300 * time.Millisecond)
		recv(t, sig.Renewed, "renewed")
	}
	none(t, sig.Lost, "lost")
	if r := c.resigned(); len(r) != 0 {
		t.Errorf("preferred booster resigned %v", r)
	}
}

func TestConfigChecks(t *testing.T) {
	s := &MockStore{}
	for _, cfg := range []Config{
		{Store: s},
		{Holder: "h"},
		{Holder: "h", Store: s, TTL: time.Second, SafetyMargin: time.Second},
		{Holder: "h", Store: s, TTL: time.Second, SafetyMargin: 200 * time.Millisecond, RenewEvery: 900 * time.Millisecond},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
	e, err := New(Config{Holder: "h", Store: s})
	if err != nil {
		t.Fatal(err)
	}
	if e.cfg.TTL != DefaultTTL || e.cfg.RenewEvery != DefaultRenewEvery || e.cfg.SafetyMargin != DefaultSafetyMargin {
		t.Errorf("defaults not applied: %+v", e.cfg)
	}
	e.Stop() // before Start: harmless
	if err := e.Start(context.Background()); err == nil {
		t.Error("Start after Stop accepted")
	}
}

// A hand back that does not hold (the preferred booster did not take the
// lease, so this one wins it again right after the hold-off) doubles the
// wait before the next hand back.
func TestFailedHandbackDoublesTheWait(t *testing.T) {
	var ready atomic.Bool
	ready.Store(true)
	_, clock, sig, c := newTest(t, Config{
		PreferredReady: ready.Load,
		HandbackAfter:  600 * time.Millisecond,
		HoldOff:        time.Second,
	}, &MockStore{ElectFunc: electOK(2)})
	recv(t, sig.Gained, "gained")
	ticksUntilLost := func() int {
		t.Helper()
		for n := 1; n <= 20; n++ {
			waitTimers(t, clock, 2)
			clock.Advance(300 * time.Millisecond)
			select {
			case <-sig.Lost:
				return n
			case <-sig.Renewed:
			case <-time.After(2 * time.Second):
				t.Fatal("elector stuck")
			}
		}
		t.Fatal("never handed back")
		return 0
	}
	// Ready since the first tick; 600ms later (tick 3) it hands back.
	if n := ticksUntilLost(); n != 3 {
		t.Fatalf("first hand back after %d ticks, want 3", n)
	}
	waitTimers(t, clock, 1)
	clock.Advance(time.Second) // hold-off over; the lease is free again
	recv(t, sig.Gained, "gained again")
	// Now 1.2s of readiness are needed: ready at tick 1, due at tick 5.
	if n := ticksUntilLost(); n != 5 {
		t.Fatalf("second hand back after %d ticks, want 5 (doubled wait)", n)
	}
	if r := c.resigned(); len(r) != 2 {
		t.Errorf("%d resigns, want 2", len(r))
	}
}
