package flow

import "time"

// SetSleepClock makes sleep nodes compute their wake-up time from now()
// instead of the database clock, so tests need not wait for long timers.
func SetSleepClock(e *Engine, now func() time.Time) { e.sleepNow = now }
