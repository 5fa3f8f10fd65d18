// Command specextract copies the facts of botocore's ElastiCache service model into spec/: operations,
// shapes, enums, errors, waiters and paginators, without the documentation prose.
//
//	go run ./cmd/specextract -botocore "$(python3 -c 'import botocore,os;print(os.path.dirname(botocore.__file__))')" -out spec
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	botocore := flag.String("botocore", "", "botocore package directory")
	out := flag.String("out", "spec", "output directory")
	flag.Parse()
	if err := run(*botocore, *out); err != nil {
		fmt.Fprintln(os.Stderr, "specextract:", err)
		os.Exit(1)
	}
}

func run(botocore, out string) error {
	dir := filepath.Join(botocore, "data", "elasticache", "2015-02-02")
	model, err := readMaybeGzip(filepath.Join(dir, "service-2.json"))
	if err != nil {
		return err
	}
	if err := writeStripped(model, filepath.Join(out, "elasticache-2015-02-02.json")); err != nil {
		return err
	}
	for _, name := range []string{"waiters-2.json", "paginators-1.json"} {
		b, err := readMaybeGzip(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := writeStripped(b, filepath.Join(out, name)); err != nil {
			return err
		}
	}
	return nil
}

// readMaybeGzip reads path, or path+".gz" decompressed.
func readMaybeGzip(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		return b, nil
	}
	f, err := os.Open(path + ".gz")
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	return io.ReadAll(zr)
}

// writeStripped removes every "documentation" and "documentationUrl" key and writes indented JSON
// with sorted keys, so that diffs between model versions stay readable.
func writeStripped(in []byte, path string) error {
	var v any
	if err := json.Unmarshal(in, &v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	v = strip(v)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func strip(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if k == "documentation" || k == "documentationUrl" || k == "deprecatedMessage" {
				delete(t, k)
				continue
			}
			t[k] = strip(e)
		}
	case []any:
		for i := range t {
			t[i] = strip(t[i])
		}
	}
	return v
}
