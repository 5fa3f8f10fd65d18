// Package resp is the one way ecache's control plane speaks the Redis protocol: a codec that reads and writes
// RESP2 and RESP3 values (Reader, the Append functions) and a small client for one engine connection (Dial,
// Conn.Do, Conn.Pipeline) with TLS and AUTH. Transport failures wrap ErrUnreachable; error replies are Error.
//
// It is built for the hot paths that come after the control plane too (a transaction log and a proxy): no
// reflection, replies decoded straight from the read buffer, commands appended to a reused write buffer.
// Imported by the packages that talk to engines (replication, rdb, driver/process, controller) and by the
// data-plane parts; it imports nothing of ecache.
package resp
