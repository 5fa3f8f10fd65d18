package replication

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Role is a node's replication role, spelled as INFO replication reports it.
type Role string

const (
	RolePrimary Role = "master"
	RoleReplica Role = "slave"
)

// State is a node's replication state as INFO replication reports it.
type State struct {
	Role              Role
	MasterAddr        string        // replicas: host:port of their primary
	LinkUp            bool          // replicas: master_link_status:up
	SyncInProgress    bool          // replicas: master_sync_in_progress:1
	Offset            int64         // master_repl_offset (primaries) / slave_repl_offset (replicas)
	ConnectedReplicas []ReplicaInfo // primaries: one per slaveN line
	ReplID            string        // master_replid: the replication history the offset belongs to
}

// ReplicaInfo is one replica as its primary sees it (a slaveN line of INFO replication).
type ReplicaInfo struct {
	Addr   string        // ip:port the replica announced
	State  string        // "online" once synced; "wait_bgsave", "send_bulk" while syncing
	Offset int64         // last offset the replica acknowledged
	Lag    time.Duration // time since the replica's last acknowledgement, in whole seconds
}

// Online reports whether the primary streams to this replica (its initial sync is over).
func (r ReplicaInfo) Online() bool { return r.State == "online" }

// parseInfo parses the output of INFO replication.
func parseInfo(text string) (State, error) {
	var (
		st                        State
		host, port                string
		masterOffset, slaveOffset int64 = -1, -1
	)
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch {
		case key == "role":
			switch val {
			case "master", "primary":
				st.Role = RolePrimary
			case "slave", "replica":
				st.Role = RoleReplica
			default:
				return State{}, fmt.Errorf("info replication: unknown role %q", val)
			}
		case key == "master_host":
			host = val
		case key == "master_port":
			port = val
		case key == "master_link_status":
			st.LinkUp = val == "up"
		case key == "master_sync_in_progress":
			st.SyncInProgress = val == "1"
		case key == "master_repl_offset":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return State{}, fmt.Errorf("info replication: master_repl_offset %q", val)
			}
			masterOffset = n
		case key == "slave_repl_offset":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return State{}, fmt.Errorf("info replication: slave_repl_offset %q", val)
			}
			slaveOffset = n
		case key == "master_replid":
			st.ReplID = val
		case strings.HasPrefix(key, "slave") && isDigits(key[len("slave"):]):
			r, keep, err := parseReplicaLine(val)
			if err != nil {
				return State{}, fmt.Errorf("info replication: %s: %w", key, err)
			}
			if keep {
				st.ConnectedReplicas = append(st.ConnectedReplicas, r)
			}
		}
	}
	if st.Role == "" {
		return State{}, fmt.Errorf("info replication: no role line")
	}
	if host != "" {
		st.MasterAddr = net.JoinHostPort(host, port)
	}
	st.Offset = masterOffset
	if st.Role == RoleReplica && slaveOffset >= 0 {
		st.Offset = slaveOffset
	}
	if st.Offset < 0 {
		st.Offset = 0
	}
	return st, nil
}

// parseReplicaLine parses "ip=127.0.0.1,port=6380,state=online,offset=42,lag=0[,type=replica]". keep is
// false for the extra RDB channel of Valkey's dual-channel replication, which is not a replica.
func parseReplicaLine(val string) (r ReplicaInfo, keep bool, err error) {
	var ip, port string
	for field := range strings.SplitSeq(val, ",") {
		k, v, _ := strings.Cut(field, "=")
		switch k {
		case "ip":
			ip = v
		case "port":
			port = v
		case "state":
			r.State = v
		case "offset":
			if r.Offset, err = strconv.ParseInt(v, 10, 64); err != nil {
				return ReplicaInfo{}, false, fmt.Errorf("offset %q", v)
			}
		case "lag":
			lag, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return ReplicaInfo{}, false, fmt.Errorf("lag %q", v)
			}
			r.Lag = time.Duration(lag) * time.Second
		case "type":
			if v != "replica" {
				return ReplicaInfo{}, false, nil
			}
		}
	}
	if ip == "" || port == "" {
		return ReplicaInfo{}, false, fmt.Errorf("missing ip or port in %q", val)
	}
	r.Addr = net.JoinHostPort(ip, port)
	return r, true, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
