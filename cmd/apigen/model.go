package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// Model is the subset of a botocore service model that the generator reads.
type Model struct {
	Metadata   Metadata              `json:"metadata"`
	Operations map[string]*Operation `json:"operations"`
	Shapes     map[string]*Shape     `json:"shapes"`
}

type Metadata struct {
	APIVersion   string `json:"apiVersion"`
	XMLNamespace string `json:"xmlNamespace"`
	Protocol     string `json:"protocol"`
}

type Operation struct {
	Name   string    `json:"name"`
	Input  *ShapeRef `json:"input"`
	Output *ShapeRef `json:"output"`
	Errors []ShapeRef
}

type ShapeRef struct {
	Shape         string `json:"shape"`
	ResultWrapper string `json:"resultWrapper"`
	LocationName  string `json:"locationName"`
}

type Shape struct {
	Type      string               `json:"type"`
	Members   map[string]*ShapeRef `json:"members"`
	Required  []string             `json:"required"`
	Member    *ShapeRef            `json:"member"`
	Enum      []string             `json:"enum"`
	Exception bool                 `json:"exception"`
	Error     *ErrorInfo           `json:"error"`
	Flattened bool                 `json:"flattened"`
}

type ErrorInfo struct {
	Code           string `json:"code"`
	HTTPStatusCode int    `json:"httpStatusCode"`
	SenderFault    bool   `json:"senderFault"`
}

// Patch holds what the model on disk predates.
type Patch struct {
	Operations map[string]*Operation           `json:"operations"`
	Shapes     map[string]*Shape               `json:"shapes"`
	Members    map[string]map[string]*ShapeRef `json:"members"`
	Required   map[string][]string             `json:"required"`
	Errors     map[string][]string             `json:"errors"`
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}

func loadModel(dir string) (*Model, error) {
	var m Model
	if err := readJSON(filepath.Join(dir, "elasticache-2015-02-02.json"), &m); err != nil {
		return nil, err
	}
	var p Patch
	if err := readJSON(filepath.Join(dir, "patch.json"), &p); err != nil {
		return nil, err
	}
	if err := m.apply(&p); err != nil {
		return nil, err
	}
	return &m, m.check()
}

func (m *Model) apply(p *Patch) error {
	for name, s := range p.Shapes {
		if _, ok := m.Shapes[name]; ok {
			return fmt.Errorf("patch: shape %s already exists", name)
		}
		m.Shapes[name] = s
	}
	for name, op := range p.Operations {
		if _, ok := m.Operations[name]; ok {
			return fmt.Errorf("patch: operation %s already exists", name)
		}
		m.Operations[name] = op
	}
	for shape, members := range p.Members {
		s, ok := m.Shapes[shape]
		if !ok {
			return fmt.Errorf("patch: members for unknown shape %s", shape)
		}
		for name, ref := range members {
			if _, ok := s.Members[name]; ok {
				return fmt.Errorf("patch: member %s.%s already exists", shape, name)
			}
			s.Members[name] = ref
		}
	}
	for shape, req := range p.Required {
		s, ok := m.Shapes[shape]
		if !ok {
			return fmt.Errorf("patch: required for unknown shape %s", shape)
		}
		s.Required = req
	}
	for op, errs := range p.Errors {
		o, ok := m.Operations[op]
		if !ok {
			return fmt.Errorf("patch: errors for unknown operation %s", op)
		}
		for _, e := range errs {
			if !slices.ContainsFunc(o.Errors, func(r ShapeRef) bool { return r.Shape == e }) {
				o.Errors = append(o.Errors, ShapeRef{Shape: e})
			}
		}
	}
	return nil
}

// check verifies that every reference resolves and that the protocol features used are supported.
func (m *Model) check() error {
	for name, s := range m.Shapes {
		for mn, ref := range s.Members {
			if _, ok := m.Shapes[ref.Shape]; !ok {
				return fmt.Errorf("%s.%s: unknown shape %s", name, mn, ref.Shape)
			}
		}
		if s.Type == "list" {
			if _, ok := m.Shapes[s.Member.Shape]; !ok {
				return fmt.Errorf("%s: unknown list member shape %s", name, s.Member.Shape)
			}
			if s.Flattened {
				return fmt.Errorf("%s: flattened lists are not supported", name)
			}
		}
		if s.Type == "map" {
			return fmt.Errorf("%s: maps are not supported", name)
		}
	}
	for name, op := range m.Operations {
		for _, e := range op.Errors {
			if s, ok := m.Shapes[e.Shape]; !ok || !s.Exception {
				return fmt.Errorf("%s: error %s is not an exception shape", name, e.Shape)
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// closure returns the structure shapes reachable from roots.
func (m *Model) closure(roots []string) map[string]bool {
	seen := map[string]bool{}
	var walk func(name string)
	walk = func(name string) {
		s := m.Shapes[name]
		switch s.Type {
		case "structure":
			if seen[name] {
				return
			}
			seen[name] = true
			for _, ref := range s.Members {
				walk(ref.Shape)
			}
		case "list":
			walk(s.Member.Shape)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return seen
}

// itemName is the element name of a list's items on the wire.
func (m *Model) itemName(list string) string {
	if n := m.Shapes[list].Member.LocationName; n != "" {
		return n
	}
	return "member"
}
