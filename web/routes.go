package web

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/omflow/omflow/web/auth"
)

// access says who may call a route.
type access int

const (
	public access = iota // anyone
	user                 // logged in
	admin                // administrators
)

// routes registers every endpoint. Keep docs/openapi.yaml in step.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	s.patterns = append(s.patterns, "GET /healthz", "GET /readyz", "GET /metrics")

	s.handle("POST /api/v1/login", public, s.login)
	s.handle("POST /api/v1/logout", user, s.logout)

	s.handle("POST /api/v1/apps/import", admin, s.importApp)
	s.handle("GET /api/v1/apps/{id}/export", admin, s.exportApp)
	s.handle("GET /api/v1/flows", user, s.flows)
	s.handle("POST /api/v1/flows/{id}/enable", admin, s.setFlowEnabled(true))
	s.handle("POST /api/v1/flows/{id}/disable", admin, s.setFlowEnabled(false))
	s.handle("POST /api/v1/flows/{ref}/tickets", user, s.fileTicket)
	s.handle("GET /api/v1/flows/{id}/permissions", admin, s.flowPermissions)
	s.handle("PUT /api/v1/permissions/{id}", admin, s.mapPermission)
	s.handle("GET /api/v1/tickets", user, s.tickets)
	s.handle("GET /api/v1/tickets/{id}", user, s.ticket)
	s.handle("GET /api/v1/tickets/{id}/attachments", user, s.ticketAttachments)
	s.handle("GET /api/v1/tasks", user, s.tasks)
	s.handle("POST /api/v1/tasks/{id}/complete", user, s.completeTask)

	s.handle("GET /api/v1/me", user, s.me)
	s.handle("POST /api/v1/me/password", user, s.changeMyPassword)
	s.handle("GET /api/v1/users", admin, s.users)
	s.handle("POST /api/v1/users", admin, s.createUser)
	s.handle("GET /api/v1/users/{id}", admin, s.getUser)
	s.handle("PATCH /api/v1/users/{id}", admin, s.updateUser)
	s.handle("POST /api/v1/users/{id}/password", admin, s.setUserPassword)

	s.handle("GET /api/v1/groups", user, s.groups)
	s.handle("POST /api/v1/groups", admin, s.createGroup)
	s.handle("GET /api/v1/groups/{id}", admin, s.getGroup)
	s.handle("PATCH /api/v1/groups/{id}", admin, s.updateGroup)
	s.handle("DELETE /api/v1/groups/{id}", admin, s.deleteGroup)
	s.handle("POST /api/v1/groups/{id}/members/{uid}", admin, s.addMember)
	s.handle("DELETE /api/v1/groups/{id}/members/{uid}", admin, s.removeMember)

	s.handle("GET /api/v1/settings", admin, s.getSettings)
	s.handle("PUT /api/v1/settings", admin, s.putSettings)
	s.handle("GET /api/v1/cluster", admin, s.cluster)

	s.handle("POST /api/v1/attachments", user, s.uploadAttachment)
	s.handle("GET /api/v1/attachments/{id}", user, s.downloadAttachment)

	s.mux.HandleFunc("/api/", s.apiNotFound)
	if s.o.UI != nil {
		s.mux.Handle("/", s.o.UI)
	}
}

func (s *Server) handle(pattern string, who access, h handlerFunc) {
	s.patterns = append(s.patterns, pattern)
	var hh http.Handler = s.api(h)
	switch who {
	case user:
		hh = auth.RequireLogin(hh)
	case admin:
		hh = auth.RequireAdmin(hh)
	}
	s.mux.Handle(pattern, hh)
}

// apiNotFound answers API paths no route matches: 405 with Allow when the
// path exists for other methods, else 404, in the JSON error shape.
func (s *Server) apiNotFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pat := s.mux.Handler(r2); pat != "/api/" && pat != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", joinComma(allow))
		s.writeError(w, r, errorf(http.StatusMethodNotAllowed, "method_not_allowed", "", "%s is not allowed here: use %s", r.Method, joinComma(allow)))
		return
	}
	s.writeError(w, r, notFoundErr("no API endpoint %s %s", r.Method, r.URL.Path))
}

func joinComma(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}
