package gossip

import (
	"strings"
	"testing"

	"github.com/omflow/omflow/cluster"
)

func TestMetaRoundTrip(t *testing.T) {
	for _, m := range []Meta{
		{Role: cluster.RoleBooster, Name: "b1", Version: "1.2.3", HTTP: "127.0.0.2:8080", BoosterOrder: 1, Active: true, Epoch: 7, Load: 0},
		{Role: cluster.RoleServer, Name: "srv-1.example.com", Version: "dev", HTTP: "[::1]:80", Load: 12},
		{Role: cluster.RoleAgent, Name: "10.0.0.31:5169", Leaving: true},
	} {
		b, err := EncodeMeta(m)
		if err != nil {
			t.Fatalf("encode %+v: %v", m, err)
		}
		got, err := ParseMeta(b)
		if err != nil {
			t.Fatalf("parse %q: %v", b, err)
		}
		if got != m {
			t.Errorf("round trip: got %+v, want %+v", got, m)
		}
	}
}

func TestParseMetaRejects(t *testing.T) {
	ok := `{"r":"server","n":"s1","v":"1"}`
	if _, err := ParseMeta(append([]byte{1}, ok...)); err != nil {
		t.Fatalf("baseline rejected: %v", err)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"format", append([]byte{2}, ok...), "format 2"},
		{"unknown field", []byte("\x01" + `{"r":"server","n":"s1","zz":1}`), "unknown field"},
		{"trailing", []byte("\x01" + ok + `{}`), "trailing"},
		{"role", []byte("\x01" + `{"r":"worker","n":"s1"}`), "role"},
		{"no name", []byte("\x01" + `{"r":"server"}`), "name: required"},
		{"space in name", []byte("\x01" + `{"r":"server","n":"a b"}`), "name"},
		{"bad http", []byte("\x01" + `{"r":"server","n":"s","h":"nohost"}`), "http"},
		{"bad http port", []byte("\x01" + `{"r":"server","n":"s","h":"h:0"}`), "port"},
		{"booster order", []byte("\x01" + `{"r":"booster","n":"b"}`), "booster order 0"},
		{"order on server", []byte("\x01" + `{"r":"server","n":"s","o":1}`), "only boosters"},
		{"active server", []byte("\x01" + `{"r":"server","n":"s","a":true}`), "only a booster"},
		{"active epoch 0", []byte("\x01" + `{"r":"booster","n":"b","o":1,"a":true}`), "epoch"},
		{"negative load", []byte("\x01" + `{"r":"server","n":"s","l":-1}`), "load"},
		{"not json", []byte("\x01garbage"), "gossip metadata"},
		{"too long", append([]byte{1}, strings.Repeat("x", 600)...), "bytes"},
	} {
		_, err := ParseMeta(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestEncodeMetaValidates(t *testing.T) {
	if _, err := EncodeMeta(Meta{Role: cluster.RoleServer, Name: strings.Repeat("n", 200)}); err == nil {
		t.Error("200-byte name accepted")
	}
	worst := Meta{Role: cluster.RoleBooster, Name: strings.Repeat("n", maxNameLen), Version: strings.Repeat("v", maxVersionLen),
		HTTP: strings.Repeat("h", maxHTTPLen-6) + ":65535", BoosterOrder: 2, Active: true, Epoch: 1<<63 - 1, Load: 1<<31 - 1, Leaving: true}
	if _, err := EncodeMeta(worst); err != nil {
		t.Errorf("largest valid metadata does not fit: %v", err)
	}
}

func FuzzParseMeta(f *testing.F) {
	for _, s := range []string{
		`{"r":"server","n":"s1","v":"1"}`,
		`{"r":"booster","n":"b","o":2,"a":true,"e":3,"l":4,"h":"1.2.3.4:80"}`,
		`{"r":"agent","n":"x","x":true}`,
	} {
		f.Add(append([]byte{1}, s...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMeta(b)
		if err != nil {
			return
		}
		enc, err := EncodeMeta(m)
		if err != nil {
			t.Fatalf("parsed %q but cannot encode %+v: %v", b, m, err)
		}
		m2, err := ParseMeta(enc)
		if err != nil || m2 != m {
			t.Fatalf("re-parse of %q: %+v, %v; want %+v", enc, m2, err, m)
		}
	})
}
