package web

import (
	"net/http"
)

// cluster answers GET /api/v1/cluster: {"mode":"standalone"} for a
// standalone server, else the cluster status document (cluster.Status) as
// this server's gossip sees it.
func (s *Server) cluster(w http.ResponseWriter, r *http.Request) error {
	if s.o.ClusterStatus == nil {
		writeJSON(w, http.StatusOK, map[string]string{"mode": "standalone"})
		return nil
	}
	st, err := s.o.ClusterStatus(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}
