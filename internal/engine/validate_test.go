package engine

import (
	"errors"
	"testing"
)

func TestValidateParameterValue(t *testing.T) {
	tests := []struct {
		family, name, value string
		want                error // nil, ErrInvalidParameterValue or ErrParameterNotModifiable
	}{
		// integer ranges
		{"redis7", "timeout", "0", nil},
		{"redis7", "timeout", "19", ErrInvalidParameterValue},
		{"redis7", "timeout", "20", nil},
		{"redis7", "timeout", "86400", nil},
		{"redis7", "timeout", "-1", ErrInvalidParameterValue},
		{"redis7", "timeout", "ten", ErrInvalidParameterValue},
		{"redis7", "timeout", "", ErrInvalidParameterValue},
		{"redis7", "timeout", "1.5", ErrInvalidParameterValue},
		{"redis7", "reserved-memory-percent", "100", nil},
		{"redis7", "reserved-memory-percent", "101", ErrInvalidParameterValue},
		{"redis7", "repl-backlog-size", "16384", nil},
		{"redis7", "repl-backlog-size", "16383", ErrInvalidParameterValue},
		{"redis7", "repl-backlog-size", "9223372036854775807", nil},
		{"redis7", "repl-backlog-size", "9223372036854775808", ErrInvalidParameterValue},
		{"redis7", "slowlog-log-slower-than", "-1", nil},
		{"redis7", "slowlog-log-slower-than", "0", nil},
		{"redis7", "list-max-listpack-size", "-2", nil},
		{"redis7", "list-max-listpack-size", "-5", nil},
		{"redis7", "list-max-listpack-size", "-6", ErrInvalidParameterValue},
		{"redis7", "list-max-listpack-size", "0", ErrInvalidParameterValue},
		{"redis7", "list-max-listpack-size", "128", nil},
		{"redis7", "active-defrag-cycle-max", "75", nil},
		{"redis7", "active-defrag-cycle-max", "76", ErrInvalidParameterValue},
		{"valkey8", "commandlog-request-larger-than", "-1", nil},
		{"valkey8", "commandlog-request-larger-than", "-2", ErrInvalidParameterValue},
		{"valkey8", "maxmemory-samples", "65", ErrInvalidParameterValue},
		// enums
		{"redis7", "maxmemory-policy", "allkeys-lfu", nil},
		{"redis7", "maxmemory-policy", "allkeys-LRU", ErrInvalidParameterValue},
		{"redis7", "maxmemory-policy", "", ErrInvalidParameterValue},
		{"redis2.8", "maxmemory-policy", "allkeys-lfu", ErrInvalidParameterValue},
		{"redis7", "acl-pubsub-default", "resetchannels", nil},
		{"memcached1.6", "binding_protocol", "ascii", nil},
		{"memcached1.6", "binding_protocol", "binary", ErrInvalidParameterValue},
		{"memcached1.6", "hash_algorithm", "murmur3", nil},
		// booleans
		{"redis7", "activedefrag", "yes", nil},
		{"redis7", "activedefrag", "true", ErrInvalidParameterValue},
		{"memcached1.6", "cas_disabled", "1", nil},
		{"memcached1.6", "cas_disabled", "yes", ErrInvalidParameterValue},
		{"memcached1.6", "cas_disabled", "2", ErrInvalidParameterValue},
		// floats
		{"memcached1.6", "chunk_size_growth_factor", "1.02", nil},
		{"memcached1.6", "chunk_size_growth_factor", "2", nil},
		{"memcached1.6", "chunk_size_growth_factor", "1", ErrInvalidParameterValue},
		{"memcached1.6", "chunk_size_growth_factor", "NaN", ErrInvalidParameterValue},
		{"memcached1.6", "chunk_size_growth_factor", "x", ErrInvalidParameterValue},
		{"memcached1.6", "max_item_size", "1023", ErrInvalidParameterValue},
		{"memcached1.6", "max_item_size", "134217728", nil},
		// free strings with their own rules
		{"redis7", "notify-keyspace-events", "", nil},
		{"redis7", "notify-keyspace-events", "KEA", nil},
		{"redis7", "notify-keyspace-events", "Ex", nil},
		{"redis7", "notify-keyspace-events", "KEQ", ErrInvalidParameterValue},
		{"redis7", "rename-commands", "", nil},
		{"redis7", "rename-commands", "flushall myflushall KEYS mykeys", nil},
		{"redis7", "rename-commands", "flushall", ErrInvalidParameterValue},
		{"redis7", "rename-commands", "CONFIG myconfig", ErrInvalidParameterValue},
		{"redis7", "rename-commands", "GET a get b", ErrInvalidParameterValue},
		// not modifiable
		{"redis7", "maxclients", "65000", ErrParameterNotModifiable},
		{"redis7", "cluster-enabled", "yes", ErrParameterNotModifiable},
		{"redis7", "lua-time-limit", "5000", ErrParameterNotModifiable},
		{"redis7", "activerehashing", "no", ErrParameterNotModifiable},
		{"redis7", "appendonly", "yes", ErrParameterNotModifiable},
		{"memcached1.6", "config_max", "16", ErrParameterNotModifiable},
		{"memcached1.6", "max_simultaneous_connections", "100", ErrParameterNotModifiable},
		{"redis2.8", "appendonly", "yes", nil},
	}
	for _, tt := range tests {
		t.Run(tt.family+"/"+tt.name+"="+tt.value, func(t *testing.T) {
			p, ok := LookupParameter(tt.family, tt.name)
			if !ok {
				t.Fatalf("LookupParameter(%q, %q) not found", tt.family, tt.name)
			}
			err := ValidateParameterValue(p, tt.value)
			if tt.want == nil {
				if err != nil {
					t.Errorf("ValidateParameterValue(%q) = %v, want nil", tt.value, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("ValidateParameterValue(%q) = %v, want %v", tt.value, err, tt.want)
			}
			var pe *ParameterError
			if !errors.As(err, &pe) || pe.Name != tt.name || pe.Value != tt.value {
				t.Errorf("error %v is not a *ParameterError for %s=%q", err, tt.name, tt.value)
			}
		})
	}
}

func TestCheckParameterValueIgnoresModifiability(t *testing.T) {
	p, _ := LookupParameter("redis7", "maxclients")
	if err := CheckParameterValue(p, "1000"); err != nil {
		t.Errorf("CheckParameterValue(maxclients, 1000) = %v, want nil", err)
	}
	if err := CheckParameterValue(p, "70000"); !errors.Is(err, ErrInvalidParameterValue) {
		t.Errorf("CheckParameterValue(maxclients, 70000) = %v, want ErrInvalidParameterValue", err)
	}
	if err := CheckParameterValue(Param{ParameterName: "x", DataType: "blob"}, "1"); !errors.Is(err, ErrInvalidParameterValue) {
		t.Errorf("unknown data type: %v, want ErrInvalidParameterValue", err)
	}
}
