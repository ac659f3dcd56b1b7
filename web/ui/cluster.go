package ui

import (
	"context"
	"time"

	"github.com/omflow/omflow/cluster"
)

// clusterBlock is the Cluster block of the settings page in cluster mode:
// the status document as this server sees it, or why it is missing.
type clusterBlock struct {
	Status *cluster.Status
	Err    string
}

// clusterBlock returns the block, nil for a standalone server.
func (u *UI) clusterBlock(ctx context.Context) *clusterBlock {
	if u.o.Cluster == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := u.o.Cluster(ctx)
	if err != nil {
		u.log.Warn("settings page: cluster status", "err", err)
		return &clusterBlock{Err: err.Error()}
	}
	return &clusterBlock{Status: &st}
}

// degraded reports whether pages show the degraded-mode banner.
func (u *UI) degraded() bool { return u.o.Degraded != nil && u.o.Degraded() }
