package ui

import (
	"net/http"
	"sort"

	"github.com/omflow/omflow/flow"
)

type homeData struct {
	Tasks        []flow.TaskView
	Recent       []flow.TicketSummary
	OpenTasks    int
	MyOpen       int64
	MyClosed     int64
	CanStart     int
	MoreTasks    bool
	TaskLinkBase string
}

func (u *UI) home(rq *req) error {
	a := rq.actor
	tasks, err := u.o.Engine.Tasks(rq.ctx, a, false)
	if err != nil {
		return err
	}
	open, closed := false, true
	mineOpen, err := u.o.Engine.Tickets(rq.ctx, a, flow.TicketFilter{Mine: true, Closed: &open, PerPage: 1, Page: 1})
	if err != nil {
		return err
	}
	mineClosed, err := u.o.Engine.Tickets(rq.ctx, a, flow.TicketFilter{Mine: true, Closed: &closed, PerPage: 1, Page: 1})
	if err != nil {
		return err
	}
	recent, err := u.o.Engine.Tickets(rq.ctx, a, flow.TicketFilter{Mine: true, PerPage: 10, Page: 1})
	if err != nil {
		return err
	}
	flows, err := u.o.Engine.Flows(rq.ctx, a)
	if err != nil {
		return err
	}
	d := homeData{
		OpenTasks: len(tasks), MyOpen: mineOpen.Total, MyClosed: mineClosed.Total,
		Recent: recent.Items,
	}
	for _, f := range flows {
		if f.CanStart && f.Enabled {
			d.CanStart++
		}
	}
	d.Tasks = rq.namedGroups(tasks)
	if len(d.Tasks) > 10 {
		d.Tasks, d.MoreTasks = d.Tasks[:10], true
	}
	return rq.render(http.StatusOK, "home", rq.T("home.title"), "home", d)
}

type catalogApp struct {
	Name  string
	Flows []flow.FlowInfo
}

func (u *UI) catalogPage(rq *req) error {
	flows, err := u.o.Engine.Flows(rq.ctx, rq.actor)
	if err != nil {
		return err
	}
	return rq.render(http.StatusOK, "catalog", rq.T("catalog.title"), "catalog", groupByApp(flows, true))
}

// groupByApp groups flows by app, apps and flows sorted by name. startable
// keeps only the flows the actor may start now.
func groupByApp(flows []flow.FlowInfo, startable bool) []catalogApp {
	idx := map[string]int{}
	var apps []catalogApp
	for _, f := range flows {
		if startable && (!f.CanStart || !f.Enabled) {
			continue
		}
		i, ok := idx[f.App]
		if !ok {
			i = len(apps)
			idx[f.App] = i
			apps = append(apps, catalogApp{Name: f.App})
		}
		apps[i].Flows = append(apps[i].Flows, f)
	}
	sort.Slice(apps, func(i, j int) bool { return apps[i].Name < apps[j].Name })
	for _, a := range apps {
		sort.Slice(a.Flows, func(i, j int) bool { return a.Flows[i].Name < a.Flows[j].Name })
	}
	return apps
}
