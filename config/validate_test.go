package config

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// validBase is a valid standalone server.
func validBase() Config {
	c := Defaults()
	c.NodeName = "node1"
	return c
}

// validCluster is a valid booster configuration (the first of the pair).
func validCluster() Config {
	c := validBase()
	c.Role = RoleBooster
	c.DBEngine, c.DBHost, c.DBPort = EnginePostgres, "10.0.0.20", 5432
	c.LocalIP = "10.0.0.11"
	c.BoosterIP, c.SecondBoosterIP = "10.0.0.11", "10.0.0.12"
	c.ClusterKey = base64.StdEncoding.EncodeToString(make([]byte, 32))
	return c
}

// fieldErrors unpacks the joined errors of Validate.
func fieldErrors(t *testing.T, err error) []*FieldError {
	t.Helper()
	if err == nil {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Validate returned %T, want joined errors", err)
	}
	var out []*FieldError
	for _, e := range joined.Unwrap() {
		fe, ok := e.(*FieldError)
		if !ok {
			t.Fatalf("Validate returned %T (%v), want *FieldError", e, e)
		}
		out = append(out, fe)
	}
	return out
}

func TestValidateGood(t *testing.T) {
	for name, c := range map[string]Config{"standalone": validBase(), "booster": validCluster()} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	second := validCluster()
	second.LocalIP = "10.0.0.12"
	if err := second.Validate(); err != nil {
		t.Errorf("second booster: %v", err)
	}
	agent := validCluster()
	agent.Role, agent.LocalIP = RoleAgent, "10.0.0.31"
	if err := agent.Validate(); err != nil {
		t.Errorf("agent: %v", err)
	}
	server := validCluster()
	server.Role, server.LocalIP = RoleServer, "10.0.0.31"
	if err := server.Validate(); err != nil {
		t.Errorf("clustered server: %v", err)
	}
}

func TestValidateErrors(t *testing.T) {
	key16 := base64.StdEncoding.EncodeToString(make([]byte, 10))
	cases := []struct {
		name    string
		base    func() Config
		mutate  func(*Config)
		key     string
		value   string
		contain string
	}{
		{"http port zero", validBase, func(c *Config) { c.HTTPPort = 0 }, "HTTP_PORT", "0", "from 1 to 65535"},
		{"http port high", validBase, func(c *Config) { c.HTTPPort = 70000 }, "HTTP_PORT", "70000", "from 1 to 65535"},
		{"local port negative", validBase, func(c *Config) { c.LocalPort = -1 }, "LOCAL_PORT", "-1", "port number"},
		{"booster port", validBase, func(c *Config) { c.BoosterPort = 65536 }, "BOOSTER_PORT", "65536", "port number"},
		{"db port", validBase, func(c *Config) { c.DBPort = 99999 }, "DB_PORT", "99999", "or 0"},
		{"booster http port", validBase, func(c *Config) { c.BoosterHTTPPort = -5 }, "BOOSTER_HTTP_PORT", "-5", "or 0"},
		{"engine", validBase, func(c *Config) { c.DBEngine = "mongo" }, "DB_ENGINE", "mongo", "must be one of sqlite, postgres, mysql, sqlserver"},
		{"oracle", validBase, func(c *Config) { c.DBEngine, c.DBHost = "oracle", "db" }, "DB_ENGINE", "oracle", "not supported in this release"},
		{"role", validBase, func(c *Config) { c.Role = "master" }, "ROLE", "master", "must be one of server, booster, agent, slave"},
		{"log level", validBase, func(c *Config) { c.LogLevel = "verbose" }, "LOG_LEVEL", "verbose", "debug, info, warn, error"},
		{"log format", validBase, func(c *Config) { c.LogFormat = "xml" }, "LOG_FORMAT", "xml", "text, json"},
		{"cluster key base64", validBase, func(c *Config) { c.ClusterKey = "not base64!!" }, "CLUSTER_KEY", SecretMask, "not valid base64"},
		{"cluster key length", validBase, func(c *Config) { c.ClusterKey = key16 }, "CLUSTER_KEY", SecretMask, "decodes to 10 bytes, want 16, 24 or 32"},
		{"sqlite with booster ip", validBase, func(c *Config) { c.BoosterIP = "10.0.0.11"; c.ClusterKey = validCluster().ClusterKey },
			"DB_ENGINE", "sqlite", "cannot be used with boosters (BOOSTER_IP is set): a cluster shares one database; set DB_ENGINE to postgres, mysql or sqlserver"},
		{"sqlite with agent", validCluster, func(c *Config) { c.Role, c.DBEngine = RoleAgent, "sqlite" }, "DB_ENGINE", "sqlite", "cannot be used with boosters (ROLE=agent)"},
		{"sqlite with slave", validCluster, func(c *Config) { c.Role, c.DBEngine = RoleSlave, "sqlite" }, "DB_ENGINE", "sqlite", "a cluster shares one database"},
		{"booster without booster ip", validCluster, func(c *Config) { c.BoosterIP, c.SecondBoosterIP = "", "" }, "BOOSTER_IP", "", "must be set in a cluster (ROLE=booster)"},
		{"booster without key", validCluster, func(c *Config) { c.ClusterKey = "" }, "CLUSTER_KEY", "", "omflow config genkey"},
		{"booster not in pair", validCluster, func(c *Config) { c.LocalIP = "10.0.0.99" }, "LOCAL_IP", "10.0.0.99",
			"(10.0.0.99:5169) is neither BOOSTER (10.0.0.11:5169) nor SECOND_BOOSTER (10.0.0.12:5169)"},
		{"booster wrong port", validCluster, func(c *Config) { c.LocalPort, c.SecondBoosterIP = 5170, "" }, "LOCAL_IP", "10.0.0.11", "is not BOOSTER (10.0.0.11:5169)"},
		{"second without first", validBase, func(c *Config) { c.SecondBoosterIP = "10.0.0.12" }, "BOOSTER_IP", "", "must be set when SECOND_BOOSTER_IP is set"},
		{"same booster twice", validCluster, func(c *Config) { c.SecondBoosterIP = c.BoosterIP }, "SECOND_BOOSTER_IP", "10.0.0.11", "same address as BOOSTER"},
		{"postgres without host", validBase, func(c *Config) { c.DBEngine = "postgres" }, "DB_HOST", "", "must be set for DB_ENGINE=postgres"},
		{"mysql without name", validBase, func(c *Config) { c.DBEngine, c.DBHost, c.DBName = "mysql", "db", "" }, "DB_NAME", "", "must be set for DB_ENGINE=mysql"},
		{"workers", validBase, func(c *Config) { c.Workers = 0 }, "WORKERS", "0", "from 1 to 1024"},
		{"attachments", validBase, func(c *Config) { c.MaxAttachmentMB = 0 }, "MAX_ATTACHMENT_MB", "0", "from 1 to 2048"},
		{"bad local ip", validBase, func(c *Config) { c.LocalIP = "bad host!" }, "LOCAL_IP", "bad host!", "IP address or a DNS name"},
		{"empty local ip", validBase, func(c *Config) { c.LocalIP = "" }, "LOCAL_IP", "", "must not be empty"},
		{"booster ip with port", validBase, func(c *Config) { c.BoosterIP = "10.0.0.1:5169" }, "BOOSTER_IP", "10.0.0.1:5169", "without a port"},
		{"unspecified local ip", validCluster, func(c *Config) { c.Role, c.LocalIP = RoleAgent, "0.0.0.0" }, "LOCAL_IP", "0.0.0.0", "cannot reach an unspecified address"},
		{"no node name", validBase, func(c *Config) { c.NodeName = "" }, "NODE_NAME", "", "must not be empty"},
		{"node name space", validBase, func(c *Config) { c.NodeName = "a b" }, "NODE_NAME", "a b", "spaces"},
		{"empty data dir", validBase, func(c *Config) { c.DataDir = "" }, "DATA_DIR", "", "must not be empty"},
		{"http on cluster port", validCluster, func(c *Config) { c.HTTPPort = 5169 }, "HTTP_PORT", "5169", "is also LOCAL_PORT"},
		{"status page on cluster port", validCluster, func(c *Config) { c.BoosterHTTPPort = 5169 }, "BOOSTER_HTTP_PORT", "5169", "is also LOCAL_PORT"},
		{"password newline", validBase, func(c *Config) { c.DBPassword = "a\nb" }, "DB_PASSWORD", SecretMask, "control character"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.base()
			tc.mutate(&c)
			err := c.Validate()
			var found *FieldError
			for _, fe := range fieldErrors(t, err) {
				if fe.Key == tc.key {
					found = fe
				}
			}
			if found == nil {
				t.Fatalf("no error for %s; got %v", tc.key, err)
			}
			if found.Value != tc.value || !strings.Contains(found.Msg, tc.contain) {
				t.Fatalf("got %+v, want value %q and message containing %q", found, tc.value, tc.contain)
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("message does not name the key: %v", err)
			}
		})
	}
}

func TestValidateReportsAllProblems(t *testing.T) {
	c := validBase()
	c.HTTPPort, c.LogLevel, c.Workers = 0, "loud", 0
	fes := fieldErrors(t, c.Validate())
	if len(fes) != 3 {
		t.Fatalf("want 3 problems, got %d: %v", len(fes), fes)
	}
	var fe *FieldError
	if !errors.As(c.Validate(), &fe) {
		t.Fatal("errors.As cannot find a FieldError")
	}
}

func TestValidateNeverLeaksSecrets(t *testing.T) {
	c := validBase()
	c.DBPassword = "pa\x01ss"
	c.ClusterKey = "c2VjcmV0LWtleQ=="
	err := c.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	if strings.Contains(err.Error(), "pa\x01ss") || strings.Contains(err.Error(), c.ClusterKey) {
		t.Fatalf("secret in message: %v", err)
	}
}

func TestFieldErrorFormat(t *testing.T) {
	cases := map[string]*FieldError{
		"HTTP_PORT=0: must be a port":                         {Key: "HTTP_PORT", Value: "0", Msg: "must be a port"},
		"BOOSTER_IP: must be set":                             {Key: "BOOSTER_IP", Msg: "must be set"},
		`LOCAL_IP="bad host!" (flag --local-ip): wrong`:       {Key: "LOCAL_IP", Value: "bad host!", Msg: "wrong", Source: "flag --local-ip"},
		"HTTP_PORT=x (environment OMFLOW_HTTP_PORT): numbers": {Key: "HTTP_PORT", Value: "x", Msg: "numbers", Source: "environment OMFLOW_HTTP_PORT"},
	}
	for want, fe := range cases {
		if fe.Error() != want {
			t.Errorf("got %q, want %q", fe.Error(), want)
		}
	}
}
