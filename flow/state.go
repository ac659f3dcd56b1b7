package flow

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/omflow/omflow/flow/def"
)

// ticketState is the engine's bookkeeping of a ticket, kept as JSON in
// tickets.state: where its tokens are. A token that reached a collection
// node waits there (waitJoin) until the join goes on.
type ticketState struct {
	Seq    int      `json:"seq"`
	Tokens []*token `json:"tokens,omitempty"`
}

// A token is one thread of control in a ticket.
type token struct {
	ID   string `json:"id"`
	Node string `json:"node"` // node path: "FITEM_3", or "FITEM_5/FITEM_2" inside a subflow
	Wait string `json:"wait"` // waitJob, waitTask, waitTimer or waitJoin
}

const (
	waitJob   = "job"   // a job will move it
	waitTask  = "task"  // a person must complete a task
	waitTimer = "timer" // a sleep node's timer
	waitJoin  = "join"  // at a collection node, for the other branches
)

func parseState(s string) (*ticketState, error) {
	st := &ticketState{}
	if s == "" {
		return st, nil
	}
	if err := json.Unmarshal([]byte(s), st); err != nil {
		return nil, fmt.Errorf("read ticket state: %w", err)
	}
	return st, nil
}

func (st *ticketState) encode() string {
	b, _ := json.Marshal(st) // plain structs: cannot fail
	return string(b)
}

func (st *ticketState) newToken(node, wait string) *token {
	st.Seq++
	t := &token{ID: fmt.Sprintf("t%d", st.Seq), Node: node, Wait: wait}
	st.Tokens = append(st.Tokens, t)
	return t
}

func (st *ticketState) token(id string) *token {
	for _, t := range st.Tokens {
		if t.ID == id {
			return t
		}
	}
	return nil
}

func (st *ticketState) drop(id string) {
	out := st.Tokens[:0]
	for _, t := range st.Tokens {
		if t.ID != id {
			out = append(out, t)
		}
	}
	st.Tokens = out
}

// current lists the node paths the ticket is at.
func (st *ticketState) current() []string {
	out := make([]string, 0, len(st.Tokens))
	for _, t := range st.Tokens {
		out = append(out, t.Node)
	}
	return out
}

// scope resolves a node path to the graph it lives in and the node. A path
// "FITEM_5/FITEM_2" is node FITEM_2 of the flow embedded in subflow FITEM_5.
func scope(g *def.Graph, path string) (*def.Graph, *def.Node, string, error) {
	prefix := ""
	parts := strings.Split(path, "/")
	for i, id := range parts {
		n := g.Node(id)
		if n == nil {
			return nil, nil, "", fmt.Errorf("node %s does not exist in this flow version", path)
		}
		if i == len(parts)-1 {
			return g, n, prefix, nil
		}
		if n.Type != def.NodeSubflow || n.Config.Flow == nil {
			return nil, nil, "", fmt.Errorf("node %s is not a subflow", prefix+id)
		}
		g = n.Config.Flow
		prefix += id + "/"
	}
	return nil, nil, "", fmt.Errorf("empty node path")
}

// jobPayload is what a step job carries.
type jobPayload struct {
	Token string `json:"token"`
	// Leave means the token has finished the node (a completed form, a timer
	// that fired) and moves on to what follows it; otherwise it enters Node.
	Leave bool `json:"leave,omitempty"`
}
