package cli

import (
	ucli "github.com/urfave/cli/v2"

	"github.com/omflow/omflow/config"
)

// clusterCommand is `omflow cluster status`.
func (a *app) clusterCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "cluster",
		Usage: "show the Booster cluster",
		UsageText: `omflow cluster COMMAND [options]

Example:
   omflow cluster status --config /opt/omflow/booster/etc/omflow.conf --addr 10.0.0.11:5169`,
		Description: "Asks a cluster node over its cluster port, proving CLUSTER_KEY from the settings.",
		Subcommands: []*ucli.Command{
			withSettings(&ucli.Command{
				Name:  "status",
				Usage: "print the cluster status document of a node (active booster, epoch, members)",
				UsageText: `omflow cluster status [--config FILE] [--addr IP:PORT] [settings flags]

Examples:
   omflow cluster status --config omflow.conf
   omflow cluster status --config omflow.conf --addr 10.0.0.31:5169`,
				Description: `Prints, as JSON, the cluster as the node at --addr sees it (default: this node's
LOCAL_IP:LOCAL_PORT, or BOOSTER when LOCAL_IP is not set):
{"mode":"cluster","active_booster":"IP:PORT","epoch":N,"members":[{"name","role","address",
"http","state","version","active","load"}]}. Any node answers: a booster or a server.`,
				Flags: []ucli.Flag{&ucli.StringFlag{Name: "addr", Usage: "cluster address `IP:PORT` of the node to ask"}},
				Action: a.withConfig(0, "no arguments", false, func(c *ucli.Context, cfg config.Config) error {
					if a.deps.ClusterStatus == nil {
						return notAvailable("cluster status")
					}
					return a.deps.ClusterStatus(c.Context, cfg, c.String("addr"), c.App.Writer)
				}),
			}),
		},
	}
}
