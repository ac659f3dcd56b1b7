// Package cluster holds the domain types shared by the cluster layer of
// OMFLOW (roles, member states, the status document, the cluster key and id)
// and documents the failover design. The machinery lives in subpackages:
// mux (one TCP port for gossip and RPC), gossip (membership), rpc and rpcpb
// (the booster RPC) and elect (the active-booster election).
package cluster
