// Command apigen generates internal/api from the ElastiCache model in spec/: Go types for every
// structure, Query protocol decoders for inputs, XML encoders for outputs, constructors for the modelled
// faults, the Service interface and the operation dispatch table.
//
// It runs through go generate (see internal/api/doc.go); never edit its output by hand.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	specDir := flag.String("spec", "spec", "directory holding the model and patch.json")
	outDir := flag.String("out", "internal/api", "directory to write the generated Go files into")
	flag.Parse()
	m, err := loadModel(*specDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "apigen:", err)
		os.Exit(1)
	}
	if err := generate(m, *outDir); err != nil {
		fmt.Fprintln(os.Stderr, "apigen:", err)
		os.Exit(1)
	}
}
