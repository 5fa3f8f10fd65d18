package txlog

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// The API: POST /append and POST /fence go to the leader (another replica answers 421 with the leader's
// address in X-Leader); GET /read serves committed bytes from any replica (from the leader with
// ?leader=1, after confirming its leadership, for a read that sees every committed write; with ?wait=<ms> a
// read at the end of the log waits that long for it to grow); GET /status.
// Epoch and offset travel in the X-Epoch and X-Offset headers, the log's epoch and end come back in the same
// headers, and a refused write answers 409 with the reason.

const maxAppend = 64 << 20

// maxWaitMillis bounds how long a read waits for the log to grow.
const maxWaitMillis = 30_000

// Status is what a replica reports about itself and the log.
type Status struct {
	ID     string `json:"id"`
	State  string `json:"state"` // Leader, Follower, Candidate
	Leader string `json:"leader"`
	Epoch  uint64 `json:"epoch"`
	End    uint64 `json:"end"` // of the bytes this replica has applied
}

func (r *Replica) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /append", func(w http.ResponseWriter, req *http.Request) {
		data, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxAppend))
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		r.command(w, req, cmdAppend, data)
	})
	mux.HandleFunc("POST /fence", func(w http.ResponseWriter, req *http.Request) { r.command(w, req, cmdFence, nil) })
	mux.HandleFunc("GET /read", r.read)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		epoch, end, err := r.fsm.state()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		st := Status{ID: r.cfg.Self.ID, State: r.raft.State().String(), Leader: r.leaderAPI(), Epoch: epoch, End: end}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
	return mux
}

func headerU64(req *http.Request, name string) (uint64, bool) {
	v, err := strconv.ParseUint(req.Header.Get(name), 10, 64)
	return v, err == nil
}

// notLeader answers a request that only the leader takes.
func (r *Replica) notLeader(w http.ResponseWriter) {
	w.Header().Set("X-Leader", r.leaderAPI())
	http.Error(w, "not the leader", http.StatusMisdirectedRequest)
}

func (r *Replica) command(w http.ResponseWriter, req *http.Request, cmd byte, data []byte) {
	epoch, ok1 := headerU64(req, "X-Epoch")
	offset, ok2 := headerU64(req, "X-Offset")
	if !ok1 || (cmd == cmdAppend && !ok2) {
		http.Error(w, "X-Epoch and X-Offset are required", http.StatusBadRequest)
		return
	}
	if r.raft.State() != raft.Leader {
		r.notLeader(w)
		return
	}
	res, err := r.apply(encode(cmd, epoch, offset, data))
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
		r.notLeader(w)
		return
	} else if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("X-Epoch", strconv.FormatUint(res.Epoch, 10))
	w.Header().Set("X-Offset", strconv.FormatUint(res.End, 10))
	if res.Err != nil {
		http.Error(w, res.Err.Error(), http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (r *Replica) read(w http.ResponseWriter, req *http.Request) {
	from, err := strconv.ParseUint(req.URL.Query().Get("from"), 10, 64)
	if err != nil {
		http.Error(w, "from is required", http.StatusBadRequest)
		return
	}
	limit, err := strconv.Atoi(req.URL.Query().Get("max"))
	if err != nil || limit <= 0 || limit > maxAppend {
		limit = 1 << 20
	}
	if req.URL.Query().Get("leader") == "1" {
		// Everything committed before this read is applied here once the barrier returns.
		if r.raft.State() != raft.Leader || r.raft.Barrier(applyTimeout).Error() != nil {
			r.notLeader(w)
			return
		}
	}
	wait, _ := strconv.Atoi(req.URL.Query().Get("wait"))
	deadline := time.After(time.Duration(min(max(wait, 0), maxWaitMillis)) * time.Millisecond)
	var data []byte
	var end uint64
	for {
		grew := r.fsm.growth()
		if data, end, err = r.fsm.read(from, limit); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if len(data) > 0 || wait <= 0 {
			break
		}
		select {
		case <-grew:
			continue
		case <-deadline:
		case <-req.Context().Done():
		case <-r.closing:
		}
		break
	}
	w.Header().Set("X-Offset", strconv.FormatUint(end, 10))
	_, _ = w.Write(data)
}
