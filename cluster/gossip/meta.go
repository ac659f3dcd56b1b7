package gossip

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"unicode"

	"github.com/hashicorp/memberlist"

	"github.com/omflow/omflow/cluster"
)

// metaFormat is the first byte of encoded metadata. A node that does not
// know a member's format refuses the member (see ParseMeta): a field can
// only be added together with a new format, and the format is raised only
// by a release whose patch roll-out handles the mixed period.
const metaFormat byte = 1

// Limits on metadata fields; together they keep the encoding well under
// memberlist.MetaMaxSize (512 bytes).
const (
	maxNameLen    = 128
	maxVersionLen = 64
	maxHTTPLen    = 128
)

// Meta is what a node tells the cluster about itself through gossip.
type Meta struct {
	Role    cluster.Role `json:"r"`
	Name    string       `json:"n"`           // node name, unique in the cluster
	Version string       `json:"v"`           // omflow version
	HTTP    string       `json:"h,omitempty"` // HTTP address host:port, "" when none
	// BoosterOrder is 1 for BOOSTER, 2 for SECOND_BOOSTER, 0 for others.
	BoosterOrder int  `json:"o,omitempty"`
	Active       bool `json:"a,omitempty"` // this booster holds the lease
	// Epoch is the lease epoch the booster holds (Active) or last saw.
	Epoch int64 `json:"e,omitempty"`
	// Load is the number of jobs in progress on the node.
	Load int `json:"l,omitempty"`
	// Leaving is set just before a clean leave, so that the others show
	// the node as "left" rather than "dead".
	Leaving bool `json:"x,omitempty"`
}

// EncodeMeta validates m and encodes it for memberlist.
func EncodeMeta(m Meta) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode gossip metadata: %w", err)
	}
	out := append([]byte{metaFormat}, body...)
	if len(out) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("encode gossip metadata: %d bytes, memberlist allows %d", len(out), memberlist.MetaMaxSize)
	}
	return out, nil
}

// ParseMeta is the one function that reads gossip metadata. It rejects an
// unknown format byte, unknown or duplicate-looking fields, trailing data
// and any value that fails Validate.
func ParseMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return m, errors.New("gossip metadata: empty (not an omflow node)")
	}
	if b[0] != metaFormat {
		return m, fmt.Errorf("gossip metadata: format %d, this node understands format %d", b[0], metaFormat)
	}
	if len(b) > memberlist.MetaMaxSize {
		return m, fmt.Errorf("gossip metadata: %d bytes, more than %d", len(b), memberlist.MetaMaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b[1:]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Meta{}, fmt.Errorf("gossip metadata: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Meta{}, errors.New("gossip metadata: trailing data after the object")
	}
	if err := m.Validate(); err != nil {
		return Meta{}, err
	}
	return m, nil
}

// Validate checks every field; errors name the field and the rule.
func (m Meta) Validate() error {
	if !m.Role.Valid() {
		return fmt.Errorf("gossip metadata: role %q: want booster, server, agent or slave", m.Role)
	}
	if err := checkText("name", m.Name, maxNameLen, true); err != nil {
		return err
	}
	if err := checkText("version", m.Version, maxVersionLen, false); err != nil {
		return err
	}
	if m.HTTP != "" {
		if len(m.HTTP) > maxHTTPLen {
			return fmt.Errorf("gossip metadata: http %q: longer than %d", m.HTTP, maxHTTPLen)
		}
		host, port, err := net.SplitHostPort(m.HTTP)
		if err != nil {
			return fmt.Errorf("gossip metadata: http %q: want host:port: %w", m.HTTP, err)
		}
		if err := checkText("http host", host, maxHTTPLen, false); err != nil {
			return err
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("gossip metadata: http %q: port must be 1-65535", m.HTTP)
		}
	}
	switch {
	case m.Role == cluster.RoleBooster && m.BoosterOrder != 1 && m.BoosterOrder != 2:
		return fmt.Errorf("gossip metadata: booster order %d: a booster is 1 (BOOSTER) or 2 (SECOND_BOOSTER)", m.BoosterOrder)
	case m.Role != cluster.RoleBooster && m.BoosterOrder != 0:
		return fmt.Errorf("gossip metadata: booster order %d: only boosters have one", m.BoosterOrder)
	case m.Role != cluster.RoleBooster && m.Active:
		return errors.New("gossip metadata: active: only a booster can be active")
	case m.Epoch < 0:
		return fmt.Errorf("gossip metadata: epoch %d: must not be negative", m.Epoch)
	case m.Active && m.Epoch == 0:
		return errors.New("gossip metadata: epoch: an active booster has an epoch of 1 or more")
	case m.Load < 0:
		return fmt.Errorf("gossip metadata: load %d: must not be negative", m.Load)
	}
	return nil
}

// checkText accepts printable, non-space text of at most max bytes.
func checkText(field, s string, max int, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("gossip metadata: %s: required", field)
		}
		return nil
	}
	if len(s) > max {
		return fmt.Errorf("gossip metadata: %s %q: longer than %d bytes", field, s, max)
	}
	for _, r := range s {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return fmt.Errorf("gossip metadata: %s %q: only printable characters without spaces", field, s)
		}
	}
	return nil
}
