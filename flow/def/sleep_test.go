package def

import (
	"strings"
	"testing"
	"time"
)

func TestSleepRefTooLongIsAnError(t *testing.T) {
	s := Sleep{Ref: "$(wait)"}
	_, err := s.WakeAt(time.Now(), func(string) any { return "1e300" })
	if err == nil || !strings.Contains(err.Error(), "100 years") {
		t.Fatalf("err = %v, want a 100 years error", err)
	}
	at, err := s.WakeAt(time.Unix(0, 0), func(string) any { return "1500" })
	if err != nil || !at.Equal(time.Unix(1, 500_000_000)) {
		t.Fatalf("1500 ms: %v %v", at, err)
	}
}
