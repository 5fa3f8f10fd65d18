package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseServeFlags(t *testing.T) {
	t.Setenv("ECACHE_NODE_PORTS", "40000-40010")
	t.Setenv("ECACHE_MAX_TAGS", "7")
	c, err := parseServeFlags([]string{"--listen", "127.0.0.1:9999", "--max-clusters", "3"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || c.PortLow != 40000 || c.PortHigh != 40010 || c.MaxClusters != 3 || c.MaxTags != 7 || c.MaxNodes != 300 || c.MaxNodesPerGroup != 90 {
		t.Errorf("config = %+v: flags, environment and defaults not applied", c)
	}
	if c, err := parseServeFlags([]string{"--regions", " lab-1, lab-2 ,"}); err != nil || strings.Join(c.ExtraRegions(), "|") != "lab-1|lab-2" {
		t.Errorf("--regions: %v, %v", c, err)
	}
	for _, bad := range [][]string{
		{"--node-ports", "10-20"}, {"--node-ports", "5000"}, {"--node-ports", "6000-5000"},
		{"--account-id", "12ab"}, {"--max-nodes", "0"}, {"extra"}, {"--regions", "lab-1,Bad_Region"},
		{"--max-nodes-per-group", "501"}, {"--max-nodes-per-group", "0"},
	} {
		if _, err := parseServeFlags(bad); err == nil {
			t.Errorf("parseServeFlags(%q) accepted", bad)
		}
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"--help"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ecache serve", "ECACHE_", "--endpoint-url"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
	if err := run([]string{"launch"}, &out, &out); err == nil {
		t.Error("an unknown command was accepted")
	}
}
