// Package endpoint provides the listeners ecache owns to give clients stable
// addresses in front of engine processes.
//
// A cache node's own endpoint is the engine's port with no hop in between.
// The addresses that ElastiCache keeps stable across failover and node
// replacement (the primary and reader endpoints of a replication group and the
// configuration endpoint of a Memcached cluster) are served here instead:
//
//   - Forwarder is an L4 TCP forwarder on a fixed address whose backends can be
//     re-pointed at runtime. Where ElastiCache re-points a DNS name, ecache
//     re-points the forwarder. Bytes are copied with io.Copy between
//     *net.TCPConn values, which uses splice(2) on Linux.
//   - MemcachedConfigEndpoint answers ElastiCache's Auto Discovery commands
//     (`config get cluster`, `get AmazonElastiCache:cluster`, `version`),
//     which stock memcached does not implement, and turns any other
//     connection into a transparent pipe to one of the cluster's nodes.
//   - SeedMemcachedNode stores the Auto Discovery payload on a node under the
//     key AmazonElastiCache:cluster, as ElastiCache does on every node.
package endpoint
