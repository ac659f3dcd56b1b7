package web

import (
	"context"
	"net/http"
	"time"
)

// healthz: the process is alive.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{"status": "ok", "version": s.o.Version, "role": s.o.Role}
	if s.o.Degraded != nil {
		body["degraded"] = s.o.Degraded()
	}
	writeJSON(w, http.StatusOK, body)
}

// readyz: the server accepts work. 503 while draining, while the Ready hook
// says no, or when the database does not answer.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	why := ""
	switch {
	case s.draining.Load():
		why = "draining"
	case s.o.Ready != nil && !s.o.Ready():
		why = "starting"
	default:
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.db.Ping(ctx); err != nil {
			s.log.Warn("readyz: database does not answer", "err", err)
			why = "database unavailable"
		}
	}
	if why != "" {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": why})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
