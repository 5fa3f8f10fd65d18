package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/ecache/ecache/internal/controller"
	"github.com/ecache/ecache/internal/service"
)

// resetPaths are where test suites ask for a reset: ecache's own, and moto's, which moto-based fixtures call.
var resetPaths = []string{"/_ecache/reset", "/moto-api/reset"}

// resetTimeout bounds a reset: every engine stopped and every file removed.
const resetTimeout = 2 * time.Minute

// withReset serves the reset paths in front of api: with allow, POST runs reset and answers once it is
// done; without, they are 404 (and other methods 405), never handed to the API.
func withReset(api http.Handler, allow bool, reset func(context.Context) (map[string]int, error), logger *slog.Logger) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/", api)
	for _, path := range resetPaths {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			switch {
			case !allow:
				w.WriteHeader(http.StatusNotFound)
				json.NewEncoder(w).Encode(map[string]string{"status": "error", "message": "reset is off: start ecache with --allow-reset"})
				return
			case r.Method != http.MethodPost:
				w.Header().Set("Allow", http.MethodPost)
				w.WriteHeader(http.StatusMethodNotAllowed)
				json.NewEncoder(w).Encode(map[string]string{"status": "error", "message": "reset is POST"})
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), resetTimeout)
			defer cancel()
			start := time.Now()
			counts, err := reset(ctx)
			if err != nil {
				logger.Error("reset failed", "err", err)
				w.WriteHeader(http.StatusInternalServerError)
				json.NewEncoder(w).Encode(map[string]string{"status": "error", "message": err.Error()})
				return
			}
			logger.Info("reset", "deleted", counts, "took", time.Since(start))
			json.NewEncoder(w).Encode(map[string]any{"status": "ok", "deleted": counts})
		})
	}
	return mux
}

// reset deletes everything: the service marks and deletes the records, the controller stops the engines
// and removes the files, and what the deletions themselves recorded (events) goes last.
func reset(ctx context.Context, svc *service.Service, ctl *controller.Controller) (map[string]int, error) {
	counts, err := svc.Reset(ctx)
	if err != nil {
		return nil, err
	}
	if err := ctl.Drained(ctx); err != nil {
		return nil, err
	}
	if _, err := svc.Reset(ctx); err != nil {
		return nil, err
	}
	return counts, nil
}
