// Package testutil holds small helpers shared by the tests of several
// packages. It is imported by tests only.
package testutil

import (
	"bytes"
	"crypto/rand"
	"sync"
	"testing"
)

// LogBuffer is a goroutine-safe io.Writer for log output that tests read
// back while the code under test still writes.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ClusterKey returns a random 32-byte cluster key.
func ClusterKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}
