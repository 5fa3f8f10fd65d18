package engine

import "testing"

func TestRDBVersion(t *testing.T) {
	for _, c := range []struct {
		engine, version string
		want            int
	}{
		{EngineRedis, "7.0.15", 10}, {EngineRedis, "7.2.4", 11}, {EngineRedis, "6.2.14", 9}, {EngineRedis, "5.0.6", 9},
		{EngineRedis, "4.0.10", 8}, {EngineRedis, "3.2.10", 7}, {EngineRedis, "2.8.24", 6},
		{EngineValkey, "8.0.1", 11}, {EngineValkey, "7.2.6", 11}, {EngineValkey, "9.0.0", 80},
	} {
		if got := RDBVersion(c.engine, c.version); got != c.want {
			t.Errorf("RDBVersion(%s, %s) = %d, want %d", c.engine, c.version, got, c.want)
		}
	}
}

func TestRDBFormatVersion(t *testing.T) {
	for header, want := range map[string]int{"REDIS0011": 11, "REDIS0009\xfa": 9, "VALKEY080": 80, "REDIS": 0, "hello wor": 0, "REDISabcd": 0} {
		got, err := RDBFormatVersion([]byte(header))
		if got != want || (err == nil) != (want != 0) {
			t.Errorf("RDBFormatVersion(%q) = %d, %v; want %d", header, got, err, want)
		}
	}
}
