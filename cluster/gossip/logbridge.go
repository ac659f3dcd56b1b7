package gossip

import (
	"context"
	"log"
	"log/slog"
	"strings"
)

// newLogBridge returns the *log.Logger handed to memberlist. It turns
// memberlist's "[LEVEL] memberlist: text" lines into slog records, rewrites
// the lines an operator must understand (a node with another cluster key)
// into plain words, and picks up "Suspect X has failed", the only place
// memberlist reveals that this node suspects a peer.
func newLogBridge(m *Membership) *log.Logger {
	return log.New(logWriter{m}, "", 0)
}

type logWriter struct{ m *Membership }

const suspectPrefix = "Suspect "
const suspectSuffix = " has failed, no acks received"

func (w logWriter) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	level := slog.LevelInfo
	for tag, l := range map[string]slog.Level{
		"[DEBUG]": slog.LevelDebug, "[INFO]": slog.LevelInfo,
		"[WARN]": slog.LevelWarn, "[ERR]": slog.LevelError, "[ERROR]": slog.LevelError,
	} {
		if rest, ok := strings.CutPrefix(line, tag); ok {
			level, line = l, strings.TrimSpace(rest)
			break
		}
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	logger := w.m.logger

	switch {
	case strings.Contains(line, "unacceptable label"):
		logger.Warn("gossip: refused a node of another cluster or with a different CLUSTER_KEY (label mismatch)",
			"cluster_id", w.m.clusterID, "detail", line)
		return len(p), nil
	case strings.Contains(line, "no installed keys could decrypt"):
		logger.Warn("gossip: refused a message that our CLUSTER_KEY cannot decrypt (a node with a different key)",
			"detail", line)
		return len(p), nil
	case strings.HasPrefix(line, suspectPrefix) && strings.HasSuffix(line, suspectSuffix):
		name := strings.TrimSuffix(strings.TrimPrefix(line, suspectPrefix), suspectSuffix)
		w.m.enqueue(rawEvent{kind: rawSuspect, name: name})
	}
	logger.Log(context.Background(), level, "memberlist: "+line)
	return len(p), nil
}
