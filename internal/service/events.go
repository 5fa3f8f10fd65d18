package service

import (
	"context"
	"slices"
	"time"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/resource"
)

// DescribeEvents lists the region's events newest first; by default only the last hour's.
func (s *Service) DescribeEvents(ctx context.Context, in *api.DescribeEventsMessage) (*api.EventsMessage, error) {
	rg := region(ctx)
	max, err := maxRecords(in.MaxRecords)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	end := now
	if in.EndTime != nil {
		end = *in.EndTime
	}
	start := end.Add(-time.Hour)
	switch {
	case in.StartTime != nil:
		start = *in.StartTime
		if in.Duration != nil && in.EndTime == nil {
			end = start.Add(time.Duration(*in.Duration) * time.Minute)
		}
	case in.Duration != nil:
		start = end.Add(-time.Duration(*in.Duration) * time.Minute)
	}
	if in.Duration != nil && (*in.Duration < 0 || time.Duration(*in.Duration)*time.Minute > resource.EventRetention) {
		return nil, api.InvalidParameterValueException("Duration must be between 0 and %d minutes.", int(resource.EventRetention/time.Minute))
	}
	if end.Before(start) {
		return nil, api.InvalidParameterCombinationException("EndTime must not be earlier than StartTime.")
	}
	objs, err := s.store.List(ctx, resource.KindEvent)
	if err != nil {
		return nil, internal("describe events", err)
	}
	type keyed struct {
		key string
		ev  *resource.Event
	}
	var list []keyed
	for _, o := range slices.Backward(objs) {
		ev, err := resource.Unmarshal[resource.Event](o.Value)
		if err != nil {
			return nil, internal("describe events", err)
		}
		if ev.Region != rg || ev.Date.Before(start) || ev.Date.After(end) {
			continue
		}
		if in.SourceType != nil && ev.SourceType != *in.SourceType {
			continue
		}
		if in.SourceIdentifier != nil && ev.SourceID != *in.SourceIdentifier {
			continue
		}
		list = append(list, keyed{o.Key, ev})
	}
	if m, _ := decodeMarker(deref(in.Marker)); m != "" {
		i := slices.IndexFunc(list, func(k keyed) bool { return k.key < m })
		if i < 0 {
			i = len(list)
		}
		list = list[i:]
	}
	out := &api.EventsMessage{Events: []api.Event{}}
	if len(list) > max {
		out.Marker = ptr(encodeMarker(list[max-1].key))
		list = list[:max]
	}
	for _, k := range list {
		out.Events = append(out.Events, api.Event{
			SourceIdentifier: ptr(k.ev.SourceID), SourceType: ptr(k.ev.SourceType), Message: ptr(k.ev.Message), Date: ptr(k.ev.Date),
		})
	}
	return out, nil
}
