// Package engine is the engine catalog: the engines ecache runs (valkey,
// redis, memcached) and the versions AWS documents for them, cache node types
// with their memory, parameter group families with their default groups and
// parameters, and the engine binaries installed on this host.
//
// It answers questions and holds no state: which versions this host can run
// and which binary serves each (Host), what a parameter allows
// (ValidateParameterValue), how much memory a node gets (MemoryLimit), and
// how a parameter group becomes real engine settings (RedisSettings,
// MemcachedArgs). Data comes from AWS's ElastiCache documentation; each table
// names its source.
//
// Any package may import it (service, controller, driver); it imports only
// the standard library.
package engine
