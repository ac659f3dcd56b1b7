package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/web/auth"
)

// pathID parses the path value name as a positive id.
func pathID(r *http.Request, name string) (int64, error) {
	v := r.PathValue(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest(name, "%s in the path must be a positive whole number, not %q", name, v)
	}
	return id, nil
}

// importApp imports an OMFLOW app export sent as the request body.
func (s *Server) importApp(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(w, r, s.o.MaxImportBytes)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return badRequest("", "the request body is empty: send the app export (JSON)")
	}
	res, err := s.eng.ImportApp(r.Context(), auth.ActorFrom(r.Context()), data)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, res)
	return nil
}

// exportApp sends an app as an OMFLOW app export.
func (s *Server) exportApp(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	data, err := s.eng.ExportApp(r.Context(), auth.ActorFrom(r.Context()), id)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="app-%d.json"`, id))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
	return nil
}

// flows lists the flows the caller may start.
func (s *Server) flows(w http.ResponseWriter, r *http.Request) error {
	fs, err := s.eng.Flows(r.Context(), auth.ActorFrom(r.Context()))
	if err != nil {
		return err
	}
	if fs == nil {
		fs = []flow.FlowInfo{}
	}
	writeJSON(w, http.StatusOK, fs)
	return nil
}

func (s *Server) setFlowEnabled(on bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		if err := s.eng.SetFlowEnabled(r.Context(), auth.ActorFrom(r.Context()), id, on); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "enabled": on})
		return nil
	}
}

type fieldsRequest struct {
	Fields map[string]any `json:"fields"`
}

// fileTicket files a ticket in the flow named by id or api_path.
func (s *Server) fileTicket(w http.ResponseWriter, r *http.Request) error {
	var req fieldsRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.Fields == nil {
		req.Fields = map[string]any{}
	}
	ref := r.PathValue("ref")
	filed, err := s.eng.FileTicket(r.Context(), auth.ActorFrom(r.Context()), ref, req.Fields)
	if err != nil {
		return err
	}
	s.metrics.TicketFiled()
	w.Header().Set("Location", fmt.Sprintf("/api/v1/tickets/%d", filed.ID))
	writeJSON(w, http.StatusCreated, filed)
	return nil
}

// ticket shows one ticket to a permitted reader.
func (s *Server) ticket(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	t, err := s.eng.Ticket(r.Context(), auth.ActorFrom(r.Context()), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// tickets lists tickets: ?flow=&closed=&status=&q=&mine=&page=&per_page=.
func (s *Server) tickets(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := flow.TicketFilter{Flow: q.Get("flow"), Status: q.Get("status"), Query: q.Get("q")}
	if v := q.Get("closed"); v != "" {
		b, err := parseBool(v)
		if err != nil {
			return badRequest("closed", "closed must be true or false, not %q", v)
		}
		f.Closed = &b
	}
	if v := q.Get("mine"); v != "" {
		b, err := parseBool(v)
		if err != nil {
			return badRequest("mine", "mine must be true or false, not %q", v)
		}
		f.Mine = b
	}
	var err error
	if f.Page, err = queryInt(q.Get("page"), "page", 1, 1_000_000); err != nil {
		return err
	}
	if f.PerPage, err = queryInt(q.Get("per_page"), "per_page", 1, 200); err != nil {
		return err
	}
	if len(f.Query) > 200 {
		return badRequest("q", "q must be at most 200 bytes")
	}
	page, err := s.eng.Tickets(r.Context(), auth.ActorFrom(r.Context()), f)
	if err != nil {
		return err
	}
	if page.Items == nil {
		page.Items = []flow.TicketSummary{}
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true", "yes":
		return true, nil
	case "0", "false", "no":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean")
}

// queryInt parses an optional query parameter (0 when absent).
func queryInt(v, name string, lo, hi int) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badRequest(name, "%s must be a whole number from %d to %d, not %q", name, lo, hi, v)
	}
	return n, nil
}

// tasks lists the caller's open tasks; ?all=1 lists every open task (for
// administrators).
func (s *Server) tasks(w http.ResponseWriter, r *http.Request) error {
	all := false
	if v := r.URL.Query().Get("all"); v != "" {
		b, err := parseBool(v)
		if err != nil {
			return badRequest("all", "all must be 1 or 0, not %q", v)
		}
		all = b
	}
	act := auth.ActorFrom(r.Context())
	if all && !act.Admin {
		return forbidden("only an administrator may list every task (all=1)")
	}
	ts, err := s.eng.Tasks(r.Context(), act, all)
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []flow.TaskView{}
	}
	writeJSON(w, http.StatusOK, ts)
	return nil
}

type completeRequest struct {
	Fields map[string]any `json:"fields"`
	Action string         `json:"action"`
}

// completeTask completes a task with the form's fields and a quick action
// ("action1", "action2" or "" for plain submit).
func (s *Server) completeTask(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req completeRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	switch req.Action {
	case "", "action1", "action2":
	default:
		return badRequest("action", `action must be "action1", "action2" or "", not %q`, req.Action)
	}
	if req.Fields == nil {
		req.Fields = map[string]any{}
	}
	if err := s.eng.CompleteTask(r.Context(), auth.ActorFrom(r.Context()), id, req.Fields, req.Action); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "completed": true})
	return nil
}
