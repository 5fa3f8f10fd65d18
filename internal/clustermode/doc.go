// Package clustermode drives Valkey/Redis OSS cluster mode: forming a cluster from empty nodes, assigning
// slot ranges to shards, attaching replicas, moving slots with their keys online and removing shards.
//
// Everything is done with the engines' own commands (CLUSTER MEET, ADDSLOTSRANGE, REPLICATE, SETSLOT,
// GETKEYSINSLOT, MIGRATE, NODES, SHARDS, INFO, FAILOVER, RESET, FORGET) over connections opened for one call
// and closed at its end, with dial, read and write timeouts; every wait is bounded by the caller's context and
// polls every 50 ms. Create, AddShard, MoveSlots and RemoveShard return only once every reachable node
// reports cluster_state:ok and all of them agree on nodes, roles, primaries, primary config epochs and slots,
// with every replica's link up; Failover returns once the replica reports itself primary. All of them can be
// run again after a partial run (a control plane killed mid-operation) and pick up where the cluster is.
//
// Slot plans come from internal/hashslot. A scale-out is AddShard, then MoveSlots for each move of
// hashslot.PlanMoves(current, hashslot.Balance(current, n+1)); a scale-in is MoveSlots for each move of
// hashslot.PlanMoves(current, hashslot.Balance(current, n-1)), then RemoveShard of the drained shard. A lost
// or new replica joins its shard with AddReplica.
//
// Imported by internal/controller.
package clustermode
