package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Validate checks every value and the rules between keys. It returns all
// problems joined with errors.Join; each one is a *FieldError naming the key,
// the bad value and the fix.
func (c Config) Validate() error {
	var errs []error
	for i := range table {
		if fe := table[i].check(&c); fe != nil {
			errs = append(errs, fe)
		}
	}
	add := func(key, value, msg string) {
		k, _ := LookupKey(key)
		errs = append(errs, k.fieldError(value, msg))
	}

	if c.NodeName == "" {
		add("NODE_NAME", "", "must not be empty; the host name could not be read, so set NODE_NAME to this node's name")
	}

	if c.DBEngine != EngineSQLite && DefaultDBPort(c.DBEngine) != 0 {
		if c.DBHost == "" {
			add("DB_HOST", "", fmt.Sprintf("must be set for DB_ENGINE=%s: the database server's address", c.DBEngine))
		}
		if c.DBName == "" {
			add("DB_NAME", "", fmt.Sprintf("must be set for DB_ENGINE=%s: the database to use", c.DBEngine))
		}
	}

	// Cluster rules. A node is in a cluster when it has boosters configured
	// or runs a role that only exists in a cluster.
	var why string
	switch {
	case c.Role != RoleServer && c.Role != "":
		why = "ROLE=" + c.Role
	case c.ClusterMode():
		why = "BOOSTER_IP is set"
	}
	if why == "" {
		if c.SecondBoosterIP != "" {
			add("BOOSTER_IP", "", "must be set when SECOND_BOOSTER_IP is set: BOOSTER is the preferred active booster, SECOND_BOOSTER the standby")
		}
		return errors.Join(errs...)
	}

	if c.DBEngine == EngineSQLite {
		add("DB_ENGINE", EngineSQLite, fmt.Sprintf("cannot be used with boosters (%s): a cluster shares one database; set DB_ENGINE to %s",
			why, orList(supportedEngines[1:])))
	}
	if c.BoosterIP == "" {
		add("BOOSTER_IP", "", fmt.Sprintf("must be set in a cluster (%s): set BOOSTER_IP (and SECOND_BOOSTER_IP for a standby) to the boosters' addresses, the same on every node", why))
	}
	if c.ClusterKey == "" {
		add("CLUSTER_KEY", "", fmt.Sprintf("must be set in a cluster (%s): every node of the cluster needs the same key; create one with `omflow config genkey`", why))
	}
	if ip := net.ParseIP(c.LocalIP); ip != nil && ip.IsUnspecified() {
		add("LOCAL_IP", c.LocalIP, "other nodes cannot reach an unspecified address; set this host's address as the other nodes reach it")
	}
	if c.BoosterIP != "" && c.SecondBoosterIP != "" {
		if addrs := c.BoosterAddrs(); strings.EqualFold(addrs[0], addrs[1]) {
			add("SECOND_BOOSTER_IP", c.SecondBoosterIP, fmt.Sprintf("SECOND_BOOSTER is the same address as BOOSTER (%s); the standby needs its own host or port", addrs[0]))
		}
	}
	if c.Role == RoleBooster && c.BoosterIP != "" {
		if _, ok := c.IsBooster(); !ok {
			addrs := c.BoosterAddrs()
			which := fmt.Sprintf("is not BOOSTER (%s)", addrs[0])
			if len(addrs) > 1 {
				which = fmt.Sprintf("is neither BOOSTER (%s) nor SECOND_BOOSTER (%s)", addrs[0], addrs[1])
			}
			add("LOCAL_IP", c.LocalIP, fmt.Sprintf("ROLE=booster but LOCAL_IP:LOCAL_PORT (%s) %s; set LOCAL_IP and LOCAL_PORT to this host's entry of the booster pair",
				c.LocalAddr(), which))
		}
	}
	if c.HTTPPort == c.LocalPort {
		add("HTTP_PORT", strconv.Itoa(c.HTTPPort), "is also LOCAL_PORT, the cluster port; give the web server another port")
	}
	if c.Role == RoleBooster && c.BoosterHTTPPort == c.LocalPort {
		add("BOOSTER_HTTP_PORT", strconv.Itoa(c.BoosterHTTPPort), "is also LOCAL_PORT, the cluster port; give the status page another port")
	}
	return errors.Join(errs...)
}

// GenerateClusterKey returns a new CLUSTER_KEY: 32 random bytes in base64.
func GenerateClusterKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate cluster key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// orList writes "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
