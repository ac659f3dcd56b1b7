package elect

import (
	"context"
	"errors"
	"time"
)

// MockStore is a LeaseStore made of function fields, for tests. A nil
// field fails the call.
type MockStore struct {
	ElectFunc   func(ctx context.Context, holder string, ttl time.Duration) (int64, bool, error)
	RenewFunc   func(ctx context.Context, holder string, epoch int64, ttl time.Duration) (bool, error)
	ResignFunc  func(ctx context.Context, holder string, epoch int64) error
	CurrentFunc func(ctx context.Context) (string, int64, time.Duration, error)
}

var _ LeaseStore = (*MockStore)(nil)

var errNoMock = errors.New("elect: MockStore function not set")

// Elect calls ElectFunc.
func (m *MockStore) Elect(ctx context.Context, holder string, ttl time.Duration) (int64, bool, error) {
	if m.ElectFunc == nil {
		return 0, false, errNoMock
	}
	return m.ElectFunc(ctx, holder, ttl)
}

// Renew calls RenewFunc.
func (m *MockStore) Renew(ctx context.Context, holder string, epoch int64, ttl time.Duration) (bool, error) {
	if m.RenewFunc == nil {
		return false, errNoMock
	}
	return m.RenewFunc(ctx, holder, epoch, ttl)
}

// Resign calls ResignFunc.
func (m *MockStore) Resign(ctx context.Context, holder string, epoch int64) error {
	if m.ResignFunc == nil {
		return errNoMock
	}
	return m.ResignFunc(ctx, holder, epoch)
}

// Current calls CurrentFunc.
func (m *MockStore) Current(ctx context.Context) (string, int64, time.Duration, error) {
	if m.CurrentFunc == nil {
		return "", 0, 0, errNoMock
	}
	return m.CurrentFunc(ctx)
}
