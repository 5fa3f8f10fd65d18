package engine

import (
	"bytes"
	"errors"
	"strconv"
)

// RDBVersion is the newest RDB file format version that an engine binary of the given version reads (and
// writes). A file of a newer format is refused by the engine at startup.
func RDBVersion(engine, binaryVersion string) int {
	major, minor, _ := majorMinor(binaryVersion)
	if engine == EngineValkey {
		if major >= 9 {
			return 80 // Valkey's own format numbering starts at 80
		}
		return 11 // 7.2, 8.0 and 8.1 read what Redis OSS 7.2 writes
	}
	switch {
	case major > 7 || major == 7 && minor >= 2:
		return 11
	case major == 7:
		return 10
	case major >= 5:
		return 9
	case major == 4:
		return 8
	case major == 3 && minor >= 2:
		return 7
	default:
		return 6
	}
}

// RDBFormatVersion reads the format version from the first bytes of an RDB file ("REDIS0011", or
// "VALKEY080" for Valkey's own formats).
func RDBFormatVersion(header []byte) (int, error) {
	var digits []byte
	switch {
	case bytes.HasPrefix(header, []byte("REDIS")) && len(header) >= 9:
		digits = header[5:9]
	case bytes.HasPrefix(header, []byte("VALKEY")) && len(header) >= 9:
		digits = header[6:9]
	default:
		return 0, errors.New("not an RDB file")
	}
	v, err := strconv.Atoi(string(digits))
	if err != nil || v < 1 {
		return 0, errors.New("not an RDB file")
	}
	return v, nil
}
