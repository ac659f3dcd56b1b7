package def

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/omflow/omflow/flow/expr"
)

// Sleep says how long a sleep node waits. The config keys accepted are:
//
//	msec      milliseconds (OMFLOW's own key)
//	seconds, minutes, hours, days
//	          numbers (fractions allowed); all given keys add up
//	duration  Go duration text ("1h30m", "90s", "2h"); a bare number is seconds;
//	          adds up with the keys above
//	value     a reference such as "$(wait)" (OMFLOW's key): its value when the
//	          node is reached is the wait in milliseconds, or duration text;
//	          when set it takes the place of the fixed keys, as in OMFLOW
//	until     a time (see ParseTime; zone-less times are in the engine's
//	          location) or a reference to one; the node waits until then;
//	          it cannot be combined with a fixed duration
type Sleep struct {
	Duration time.Duration // the fixed wait (sum of the numeric keys)
	Ref      string        // config.value
	Until    string        // config.until, literal or reference
}

// IsZero reports whether no wait is configured.
func (s Sleep) IsZero() bool { return s.Duration == 0 && s.Ref == "" && s.Until == "" }

// WakeAt returns when a ticket that reaches the node at now wakes. eval
// resolves references (for example expr.Eval with the ticket's Env).
func (s Sleep) WakeAt(now time.Time, eval func(ref string) any) (time.Time, error) {
	if s.Until != "" {
		v := any(s.Until)
		if expr.Parse(s.Until).IsRef() {
			v = eval(s.Until)
		}
		if t, ok := v.(time.Time); ok {
			return t, nil
		}
		t, err := ParseTime(expr.Text(v), now.Location())
		if err != nil {
			return time.Time{}, fmt.Errorf("sleep until %s: %w", s.Until, err)
		}
		return t, nil
	}
	if s.Ref != "" {
		v := eval(s.Ref)
		d, err := refDuration(v)
		if err != nil {
			return time.Time{}, fmt.Errorf("sleep %s: %w", s.Ref, err)
		}
		return now.Add(d), nil
	}
	return now.Add(s.Duration), nil
}

// maxWait is the longest wait a sleep node may ask for.
const maxWait = 100 * 365 * 24 * time.Hour

// refDuration reads the value of config.value: milliseconds or duration text.
func refDuration(v any) (time.Duration, error) {
	if d, ok := v.(time.Duration); ok {
		return d, nil
	}
	if ms, ok := expr.Number(v); ok {
		if ms < 0 {
			return 0, fmt.Errorf("negative wait %v ms", ms)
		}
		if ms > float64(maxWait/time.Millisecond) {
			return 0, fmt.Errorf("wait of %v ms is longer than 100 years", ms)
		}
		return time.Duration(ms * float64(time.Millisecond)), nil
	}
	t := strings.TrimSpace(expr.Text(v))
	if t == "" {
		return 0, errors.New("the wait is empty")
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("%q is neither milliseconds nor a duration like 1h30m", t)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative wait %s", d)
	}
	return d, nil
}

type rawSleep struct {
	Msec     *looseFloat `json:"msec"`
	Seconds  *looseFloat `json:"seconds"`
	Minutes  *looseFloat `json:"minutes"`
	Hours    *looseFloat `json:"hours"`
	Days     *looseFloat `json:"days"`
	Duration looseString `json:"duration"`
	Value    looseString `json:"value"`
	Until    looseString `json:"until"`
}

func parseSleep(cfg json.RawMessage) (Sleep, error) {
	var s Sleep
	var rs rawSleep
	if err := decode(cfg, &rs); err != nil {
		return s, fmt.Errorf("config: %v", err)
	}
	var total float64 // nanoseconds
	for _, p := range []struct {
		key  string
		v    *looseFloat
		unit time.Duration
	}{
		{"msec", rs.Msec, time.Millisecond},
		{"seconds", rs.Seconds, time.Second},
		{"minutes", rs.Minutes, time.Minute},
		{"hours", rs.Hours, time.Hour},
		{"days", rs.Days, 24 * time.Hour},
	} {
		if p.v == nil {
			continue
		}
		if *p.v < 0 {
			return s, fmt.Errorf("config.%s: negative wait %v", p.key, float64(*p.v))
		}
		total += float64(*p.v) * float64(p.unit)
	}
	if d := strings.TrimSpace(string(rs.Duration)); d != "" {
		if secs, err := strconv.ParseFloat(d, 64); err == nil {
			if secs < 0 {
				return s, fmt.Errorf("config.duration: negative wait %q", d)
			}
			total += secs * float64(time.Second)
		} else {
			pd, err := time.ParseDuration(d)
			if err != nil {
				return s, fmt.Errorf("config.duration: %q is not a duration like 1h30m or 90s", d)
			}
			if pd < 0 {
				return s, fmt.Errorf("config.duration: negative wait %q", d)
			}
			total += float64(pd)
		}
	}
	if total > float64(maxWait) {
		return s, fmt.Errorf("sleep of %v is longer than 100 years", time.Duration(maxWait))
	}
	s.Duration = time.Duration(total)

	if v := strings.TrimSpace(string(rs.Value)); v != "" {
		r, err := expr.ParseStrict(v)
		if err != nil {
			return s, fmt.Errorf("config.value: %v", err)
		}
		if !r.IsRef() {
			return s, fmt.Errorf("config.value %q must be a reference such as $(wait) holding milliseconds", v)
		}
		s.Ref = v
	}
	if u := strings.TrimSpace(string(rs.Until)); u != "" {
		r, err := expr.ParseStrict(u)
		if err != nil {
			return s, fmt.Errorf("config.until: %v", err)
		}
		if !r.IsRef() {
			if _, err := ParseTime(u, nil); err != nil {
				return s, fmt.Errorf("config.until: %v", err)
			}
		}
		s.Until = u
		if s.Duration > 0 {
			return s, errors.New("sleep has both until and a duration: give one")
		}
	}
	return s, nil
}
