// Package elect chooses the active booster: the one booster that holds the
// lease row in the shared database. It follows River's leader election
// (riverqueue/river internal/leadership): elect by taking the lease when it
// is absent or expired by the database's clock, renew with a conditional
// update scoped to the term, resign scoped to the term, and stop trusting a
// term locally at attempt start + TTL − safety margin when renewals do not
// get through. The failover design as a whole is in cluster/doc.go.
package elect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// LeaseStore is the database side of the election (store.Lease implements
// it). A term is identified by (holder, epoch); the epoch grows by one with
// every new term and never goes back, so it fences writes. All times are
// measured by the database's clock.
type LeaseStore interface {
	// Elect takes the lease for holder, for ttl, if it is absent or
	// expired; ok is false when someone holds it.
	Elect(ctx context.Context, holder string, ttl time.Duration) (epoch int64, ok bool, err error)
	// Renew extends the lease by ttl if holder still holds it at epoch and
	// it has not expired; ok is false otherwise.
	Renew(ctx context.Context, holder string, epoch int64, ttl time.Duration) (ok bool, err error)
	// Resign ends the term (holder, epoch) at once; a later term of
	// anyone is left alone.
	Resign(ctx context.Context, holder string, epoch int64) error
	// Current returns the last term and its time left (negative once
	// expired); holder is "" when there never was one.
	Current(ctx context.Context) (holder string, epoch int64, remaining time.Duration, err error)
}

// Term is one leadership term.
type Term struct {
	Holder string
	Epoch  int64
}

// Defaults, chosen for a crash failover under 2 s (see cluster/doc.go).
const (
	DefaultTTL           = 1500 * time.Millisecond
	DefaultRenewEvery    = DefaultTTL / 5 // 300 ms: four tries before the trust window closes
	DefaultSafetyMargin  = DefaultTTL / 5 // 300 ms
	DefaultAttemptEvery  = 250 * time.Millisecond
	DefaultHandbackAfter = 10 * time.Second
	maxHandbackAfter     = 5 * time.Minute
)

// Config configures an Elector.
type Config struct {
	// Holder identifies this booster in the lease: its cluster address
	// "IP:PORT", which is also what servers are redirected to.
	Holder string
	Store  LeaseStore
	// TTL is the lease length by the database's clock.
	TTL time.Duration
	// RenewEvery is the pause between renewals while active.
	RenewEvery time.Duration
	// SafetyMargin is how long before the lease can expire an active
	// booster that could not renew stops trusting its term.
	SafetyMargin time.Duration
	// AttemptEvery is the pause between election attempts while standby;
	// Poke makes an attempt at once.
	AttemptEvery time.Duration
	// CallTimeout bounds each database call (TTL/3 when zero).
	CallTimeout time.Duration

	// Preferred is true for BOOSTER (the first in the settings). The
	// preferred booster never preempts; the other one hands the lease back
	// (see PreferredReady).
	Preferred bool
	// PreferredReady, for the non-preferred booster, says whether the
	// preferred booster is up and ready to take over (alive in gossip, in
	// standby, reaching the database). When it has said yes continuously
	// for HandbackAfter, the active non-preferred booster resigns.
	PreferredReady func() bool
	HandbackAfter  time.Duration
	// HoldOff is how long a booster that handed the lease back stays out
	// of elections, so that the preferred one gets it (max(2×TTL,
	// 4×AttemptEvery) when zero).
	HoldOff time.Duration

	// Lead runs while this booster is active; its ctx ends when the term
	// ends and it must then return promptly. The elector waits for it
	// before releasing the lease or campaigning again.
	Lead func(ctx context.Context, t Term)

	Clock   Clock // RealClock when nil
	Logger  *slog.Logger
	Signals *Signals // test signals, nil in production
}

// Signals report the elector's steps to tests. Each channel is buffered;
// a full channel drops the signal rather than blocking the elector.
type Signals struct {
	Gained    chan Term // became active
	Lost      chan Term // stopped being active
	Attempted chan bool // an election attempt ended: won or not
	Renewed   chan bool // a renewal ended: ok or not (error or refused)
}

// NewSignals returns Signals with buffers of 64.
func NewSignals() *Signals {
	return &Signals{Gained: make(chan Term, 64), Lost: make(chan Term, 64), Attempted: make(chan bool, 64), Renewed: make(chan bool, 64)}
}

func signal[T any](ch chan T, v T) {
	if ch == nil {
		return
	}
	select {
	case ch <- v:
	default:
	}
}

// Elector runs the election for one booster.
type Elector struct {
	cfg    Config
	clock  Clock
	logger *slog.Logger
	poke   chan struct{}

	mu     sync.Mutex
	term   Term
	active bool

	// loop-owned state
	holdOffUntil  time.Time
	lastHandback  time.Time
	handbackAfter time.Duration

	lifeMu  sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// New fills defaults and checks cfg.
func New(cfg Config) (*Elector, error) {
	if cfg.Holder == "" {
		return nil, errors.New("elect: Holder is required")
	}
	if cfg.Store == nil {
		return nil, errors.New("elect: Store is required")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.RenewEvery <= 0 {
		cfg.RenewEvery = cfg.TTL / 5
	}
	if cfg.SafetyMargin <= 0 {
		cfg.SafetyMargin = cfg.TTL / 5
	}
	if cfg.AttemptEvery <= 0 {
		cfg.AttemptEvery = DefaultAttemptEvery
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = cfg.TTL / 3
	}
	if cfg.HandbackAfter <= 0 {
		cfg.HandbackAfter = DefaultHandbackAfter
	}
	if cfg.HoldOff <= 0 {
		cfg.HoldOff = max(2*cfg.TTL, 4*cfg.AttemptEvery)
	}
	switch {
	case cfg.SafetyMargin >= cfg.TTL:
		return nil, fmt.Errorf("elect: SafetyMargin %v must be shorter than TTL %v", cfg.SafetyMargin, cfg.TTL)
	case cfg.RenewEvery >= cfg.TTL-cfg.SafetyMargin:
		return nil, fmt.Errorf("elect: RenewEvery %v must be shorter than TTL − SafetyMargin (%v)", cfg.RenewEvery, cfg.TTL-cfg.SafetyMargin)
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Elector{
		cfg:           cfg,
		clock:         cfg.Clock,
		logger:        logger.With("component", "elect", "holder", cfg.Holder),
		poke:          make(chan struct{}, 1),
		handbackAfter: cfg.HandbackAfter,
		done:          make(chan struct{}),
	}, nil
}

// Start runs the election in the background until Stop or ctx ends.
func (e *Elector) Start(ctx context.Context) error {
	e.lifeMu.Lock()
	defer e.lifeMu.Unlock()
	if e.started || e.stopped {
		return errors.New("elect: Start called twice or after Stop")
	}
	e.started = true
	ctx, e.cancel = context.WithCancel(ctx)
	go e.run(ctx)
	return nil
}

// Stop ends the election. An active booster stops its Lead function and
// resigns its term, so the standby can take over at once. Calling Stop
// twice is harmless.
func (e *Elector) Stop() {
	e.lifeMu.Lock()
	if e.stopped {
		e.lifeMu.Unlock()
		return
	}
	e.stopped = true
	started := e.started
	e.lifeMu.Unlock()
	if !started {
		return
	}
	e.cancel()
	<-e.done
}

// Poke makes a standby attempt an election now (for example when gossip
// reports the active booster dead or standing down).
func (e *Elector) Poke() {
	select {
	case e.poke <- struct{}{}:
	default:
	}
}

// Term returns the term this booster holds, if it is active.
func (e *Elector) Term() (Term, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.term, e.active
}

func (e *Elector) run(ctx context.Context) {
	defer close(e.done)
	for {
		epoch, attemptStart, ok := e.follow(ctx)
		if !ok {
			return
		}
		e.lead(ctx, Term{Holder: e.cfg.Holder, Epoch: epoch}, attemptStart)
		if ctx.Err() != nil {
			return
		}
	}
}

// follow campaigns until elected (true) or ctx ends (false).
func (e *Elector) follow(ctx context.Context) (int64, time.Time, bool) {
	failures := 0
	for {
		if wait := e.holdOffUntil.Sub(e.clock.Now()); wait > 0 {
			if !e.sleep(ctx, wait, false) {
				return 0, time.Time{}, false
			}
			continue
		}
		start := e.clock.Now()
		cctx, cancel := context.WithTimeout(ctx, e.cfg.CallTimeout)
		epoch, ok, err := e.cfg.Store.Elect(cctx, e.cfg.Holder, e.cfg.TTL)
		cancel()
		if ctx.Err() != nil {
			if ok && err == nil {
				// Won while shutting down: give the term back.
				e.resign(Term{Holder: e.cfg.Holder, Epoch: epoch})
			}
			return 0, time.Time{}, false
		}
		signal(e.sigs().Attempted, ok && err == nil)
		switch {
		case err != nil:
			failures++
			if failures == 1 || failures%40 == 0 {
				e.logger.Warn("elect: cannot reach the lease in the database; standing by and retrying", "err", err, "failures", failures)
			}
		case ok:
			return epoch, start, true
		default:
			failures = 0
		}
		if !e.sleep(ctx, e.cfg.AttemptEvery, true) {
			return 0, time.Time{}, false
		}
	}
}

// sleep waits d, or less when poked (if pokeable); false when ctx ends.
func (e *Elector) sleep(ctx context.Context, d time.Duration, pokeable bool) bool {
	t := e.clock.NewTimer(d)
	defer t.Stop()
	poke := e.poke
	if !pokeable {
		poke = nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
	case <-poke:
	}
	return true
}

// lead holds the term until it is lost, handed back or ctx ends.
func (e *Elector) lead(ctx context.Context, term Term, attemptStart time.Time) {
	trustedUntil := attemptStart.Add(e.cfg.TTL - e.cfg.SafetyMargin)
	e.noteGained()
	e.mu.Lock()
	e.term, e.active = term, true
	e.mu.Unlock()
	e.logger.Info("elect: this booster is now ACTIVE", "epoch", term.Epoch, "ttl", e.cfg.TTL)
	signal(e.sigs().Gained, term)

	leadCtx, cancelLead := context.WithCancel(ctx)
	leadDone := make(chan struct{})
	go func() {
		defer close(leadDone)
		if e.cfg.Lead != nil {
			e.cfg.Lead(leadCtx, term)
		}
	}()

	var reason string
	resign, handback := false, false
	var readySince time.Time
loop:
	for {
		renewT := e.clock.NewTimer(e.cfg.RenewEvery)
		trustT := e.clock.NewTimer(trustedUntil.Sub(e.clock.Now()))
		var fired string
		select {
		case <-ctx.Done():
			fired = "stop"
		case <-trustT.C():
			fired = "trust"
		case <-renewT.C():
			fired = "renew"
		}
		renewT.Stop()
		trustT.Stop()
		switch fired {
		case "stop":
			reason, resign = "shutting down", true
			break loop
		case "trust":
			reason = "could not renew the lease within the trust window (database unreachable or too slow)"
			break loop
		}
		if e.handbackDue(&readySince) {
			reason, resign, handback = "handing the lease back to the preferred booster", true, true
			break loop
		}
		start := e.clock.Now()
		budget := min(e.cfg.CallTimeout, trustedUntil.Sub(start))
		if budget <= 0 {
			continue // the trust timer fires next
		}
		cctx, cancel := context.WithTimeout(ctx, budget)
		ok, err := e.cfg.Store.Renew(cctx, term.Holder, term.Epoch, e.cfg.TTL)
		cancel()
		if ctx.Err() != nil {
			reason, resign = "shutting down", true
			break loop
		}
		signal(e.sigs().Renewed, ok && err == nil)
		switch {
		case err != nil:
			e.logger.Warn("elect: lease renewal failed; retrying until the trust window closes",
				"epoch", term.Epoch, "err", err, "trusted_for", trustedUntil.Sub(e.clock.Now()))
		case !ok:
			reason = "the lease was taken over or has expired"
			break loop
		default:
			trustedUntil = start.Add(e.cfg.TTL - e.cfg.SafetyMargin)
		}
	}

	// Stop the active-only work before the lease can pass to someone else.
	cancelLead()
	<-leadDone
	e.mu.Lock()
	e.active = false
	e.mu.Unlock()
	if resign {
		e.resign(term)
	}
	if handback {
		now := e.clock.Now()
		e.holdOffUntil = now.Add(e.cfg.HoldOff)
		e.lastHandback = now
	}
	e.logger.Warn("elect: this booster is no longer active", "epoch", term.Epoch, "reason", reason)
	signal(e.sigs().Lost, term)
}

// noteGained adjusts the hand-back delay: winning again soon after a hand
// back means the preferred booster did not keep the lease, so wait longer
// before the next hand back (no flapping); otherwise start from the base.
func (e *Elector) noteGained() {
	if e.lastHandback.IsZero() {
		return
	}
	if e.clock.Now().Sub(e.lastHandback) < e.handbackAfter+2*e.cfg.HoldOff {
		e.handbackAfter = min(2*e.handbackAfter, maxHandbackAfter)
		e.logger.Info("elect: active again soon after handing back; next hand back waits longer", "wait", e.handbackAfter)
	} else {
		e.handbackAfter = e.cfg.HandbackAfter
	}
}

// handbackDue tells whether the non-preferred active booster should resign
// now: the preferred one has been ready, without a break, for the hand-back
// delay.
func (e *Elector) handbackDue(readySince *time.Time) bool {
	if e.cfg.Preferred || e.cfg.PreferredReady == nil {
		return false
	}
	if !e.cfg.PreferredReady() {
		*readySince = time.Time{}
		return false
	}
	now := e.clock.Now()
	if readySince.IsZero() {
		*readySince = now
		return false
	}
	return now.Sub(*readySince) >= e.handbackAfter
}

func (e *Elector) resign(term Term) {
	ctx, cancel := context.WithTimeout(context.Background(), max(e.cfg.CallTimeout, time.Second))
	defer cancel()
	if err := e.cfg.Store.Resign(ctx, term.Holder, term.Epoch); err != nil {
		e.logger.Warn("elect: could not resign the lease; it will expire by itself", "epoch", term.Epoch, "err", err)
	}
}

func (e *Elector) sigs() *Signals {
	if e.cfg.Signals == nil {
		return &Signals{}
	}
	return e.cfg.Signals
}
