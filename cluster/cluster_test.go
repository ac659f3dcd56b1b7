package cluster

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(make([]byte, 32))
	if k, err := ParseKey("  " + good + "\n"); err != nil || len(k) != 32 {
		t.Fatalf("ParseKey(good) = %d bytes, %v", len(k), err)
	}
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"not base64!", "base64"},
		{base64.StdEncoding.EncodeToString(make([]byte, 16)), "16 bytes"},
	} {
		if _, err := ParseKey(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "CLUSTER_KEY") {
			t.Errorf("ParseKey(%q) = %v; want an error naming CLUSTER_KEY and %q", tc.in, err, tc.want)
		}
	}
}

func TestIDDependsOnKey(t *testing.T) {
	a, b := make([]byte, 32), make([]byte, 32)
	b[31] = 1
	if ID(a) == ID(b) || ID(a) != ID(append([]byte(nil), a...)) {
		t.Fatal("cluster id is not a function of the key alone")
	}
	if id := ID(a); !strings.HasPrefix(id, "omflow-") || len(id) != len("omflow-")+8 {
		t.Fatalf("ID = %q, want omflow- and 8 hex digits", id)
	}
}

func TestRoleValid(t *testing.T) {
	for _, r := range []Role{RoleBooster, RoleServer, RoleAgent, RoleSlave} {
		if !r.Valid() {
			t.Errorf("%s not valid", r)
		}
	}
	if Role("worker").Valid() || Role("").Valid() {
		t.Error("unknown role valid")
	}
}
