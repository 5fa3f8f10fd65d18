package controller

import (
	"context"
	"time"
)

// Job is work done on a schedule rather than in answer to a change: the controller's own sweeps, and jobs
// handed in through Config.Jobs (the service's automatic snapshots).
type Job struct {
	Name  string
	Every time.Duration
	Run   func(ctx context.Context) error
}

// jobs are the controller's own scheduled work, then cfg.Jobs. Maintenance windows need no job of their
// own: the resync sweep reconciles every cluster, and the cluster reconciler applies pending changes whose
// window has opened.
func (c *Controller) jobs() []Job {
	own := []Job{
		{Name: "resync", Every: c.cfg.Resync, Run: func(ctx context.Context) error { c.enqueueAll(ctx); return nil }},
		{Name: "remove orphaned engines", Every: 6 * c.cfg.Resync, Run: c.collectGarbage},
		{Name: "prune old events", Every: 6 * c.cfg.Resync, Run: c.pruneEvents},
	}
	return append(own, c.cfg.Jobs...)
}

// schedule runs each job when it is due by the controller's clock, checking every tick, until ctx ends.
// Every job runs once at the first tick.
func (c *Controller) schedule(ctx context.Context, tick time.Duration) {
	jobs := c.jobs()
	next := make([]time.Time, len(jobs))
	every(ctx, tick, func() {
		now := c.cfg.Now()
		for i, j := range jobs {
			if now.Before(next[i]) {
				continue
			}
			next[i] = now.Add(j.Every)
			if err := j.Run(ctx); err != nil && ctx.Err() == nil {
				c.logger.Error("scheduled job", "job", j.Name, "err", err)
			}
		}
	})
}

// every calls fn each time d has passed (by the wall clock), until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
