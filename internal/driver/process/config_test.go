package process

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ecache/ecache/internal/driver"
)

func TestRespConfig(t *testing.T) {
	spec := driver.NodeSpec{
		ID: "demo-0001", Engine: driver.EngineValkey, Binary: "/usr/bin/valkey-server", Port: 40001,
		MaxMemoryBytes: 1 << 30,
		Config:         map[string]string{"maxmemory-policy": "volatile-lru", "save": "", "client-output-buffer-limit": "pubsub 32mb 8mb 60"},
		Password:       `p"a\ss`,
	}
	got := strings.Split(strings.TrimSpace(string(respConfig(spec, "/data/nodes/demo 1", ""))), "\n")[1:]
	want := []string{
		"port 40001",
		"bind 127.0.0.1",
		"protected-mode no",
		"daemonize no",
		`dir "/data/nodes/demo 1"`,
		`logfile "/data/nodes/demo 1/engine.log"`,
		`pidfile "/data/nodes/demo 1/valkey.pid"`,
		"maxmemory 1073741824",
		`save ""`,
		"appendonly no",
		"client-output-buffer-limit pubsub 32mb 8mb 60",
		"maxmemory-policy volatile-lru",
		`save ""`,
		"masteruser default",
		`masterauth "p\"a\\ss"`,
		`requirepass "p\"a\\ss"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("config =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMemcachedArgs(t *testing.T) {
	tests := []struct {
		name string
		spec driver.NodeSpec
		want string
	}{
		{"memory and threads", driver.NodeSpec{Port: 40002, MaxMemoryBytes: 100 << 20, Threads: 4}, "-p 40002 -U 0 -l 127.0.0.1 -m 100 -t 4"},
		{"engine defaults", driver.NodeSpec{Port: 40003}, "-p 40003 -U 0 -l 127.0.0.1"},
		{"under a megabyte", driver.NodeSpec{Port: 40004, MaxMemoryBytes: 1000}, "-p 40004 -U 0 -l 127.0.0.1 -m 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Engine = driver.EngineMemcached
			got := strings.Join(memcachedArgs(tt.spec), " ")
			if !strings.HasPrefix(got, tt.want+" -c ") {
				t.Errorf("args = %q, want %q followed by -c", got, tt.want)
			}
			if os.Geteuid() == 0 && !strings.HasSuffix(got, " -u root") {
				t.Errorf("args = %q, want -u root when running as root", got)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"demo-0001", true}, {"a", true}, {"0", true}, {strings.Repeat("a", 64), true},
		{"", false}, {"-a", false}, {"Demo", false}, {"a_b", false}, {"a/b", false}, {"..", false},
		{strings.Repeat("a", 65), false},
	}
	for _, tt := range tests {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestReadStat(t *testing.T) {
	pid := os.Getpid()
	st, err := readStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.startTime == 0 {
		t.Error("start time = 0")
	}
	if !alive(pid, st.startTime) {
		t.Error("alive(self) = false")
	}
	if alive(pid, st.startTime+1) {
		t.Error("alive with another start time = true, want false (a reused pid)")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if !sameBinary(pid, exe) {
		t.Errorf("sameBinary(self, %q) = false", exe)
	}
	if sameBinary(pid, "/usr/bin/true") {
		t.Error("sameBinary(self, /usr/bin/true) = true")
	}
}

// TestRespConfigACL checks the user lines of an engine with ACL users: ecache's own user first, every rule
// one quoted word (a selector's spaces stay inside it), replicas authenticating as ecache's user.
func TestRespConfigACL(t *testing.T) {
	spec := driver.NodeSpec{
		ID: "demo-0001", Engine: driver.EngineValkey, Binary: "/usr/bin/valkey-server", Port: 40001,
		ACL: &driver.ACL{ControlUser: "ecache-control", ControlPassword: "secret", Users: []driver.ACLUser{
			{Name: "app", Rules: []string{"#" + strings.Repeat("a", 64), "on", "~app:*", "(~x +get)"}},
			{Name: "default", Rules: []string{"nopass", "off"}},
		}},
	}
	conf := string(respConfig(spec, "/data", ""))
	for _, want := range []string{
		"masteruser \"ecache-control\"\nmasterauth \"secret\"\n",
		`user "ecache-control" "reset" "on" "#2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b" "~*" "&*" "+@all"` + "\n",
		`user "app" "reset" "#` + strings.Repeat("a", 64) + `" "on" "~app:*" "(~x +get)"` + "\n",
		`user "default" "reset" "nopass" "off"` + "\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "requirepass") {
		t.Error("an engine with ACL users has a requirepass")
	}
	spec.ACL.Users[0].Name = "two words"
	if err := validateSpec(spec); err == nil || !strings.Contains(err.Error(), `invalid user name "two words"`) {
		t.Errorf("a user name with a space: %v", err)
	}
}
