// Package api is the ElastiCache API as Go: types, Query decoders, XML encoders, modelled faults, the
// Service interface and the Operations dispatch table, all generated from spec/ by cmd/apigen
// (files *_gen.go; never edit them). internal/server dispatches requests through it and
// internal/service implements Service.
package api

//go:generate go run ../../cmd/apigen -spec ../../spec -out .
