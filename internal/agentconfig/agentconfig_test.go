package agentconfig

import (
	"strings"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	cases := []struct {
		in      string
		wantErr string
	}{
		{`{"heartbeat_interval":"10s","concurrency":8}`, ""},
		{`{"heartbeat_interval":"1d"}`, ""},
		{`{"heartbeat_intervall":"10s"}`, "heartbeat_intervall: unknown setting"},
		{`{"heartbeat_interval":10}`, "want a duration string"},
		{`{"heartbeat_interval":"10ms"}`, "want between"},
		{`{"concurrency":0}`, "between 1 and 256"},
		{`{"concurrency":"4"}`, "want an integer"},
		{`[1,2]`, "must be a JSON object"},
		{`{"concurrency":1.5}`, "between 1 and 256"},
	}
	for _, tc := range cases {
		_, err := Decode([]byte(tc.in))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want it to contain %q", tc.in, err, tc.wantErr)
		}
	}
}

func TestEffectiveLayersInOrder(t *testing.T) {
	layer := func(s string) Settings {
		v, err := Decode([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	layers := map[string]Settings{
		"global":       layer(`{"heartbeat_interval":"20s","concurrency":2}`),
		"group.b-late": layer(`{"concurrency":6}`),
		"group.a-soon": layer(`{"concurrency":5,"output_cap":4096}`),
		"group.other":  layer(`{"concurrency":99}`),
		"pc.pc1":       layer(`{"heartbeat_interval":"5s"}`),
	}
	eff := Effective("pc1", []string{"b-late", "a-soon"}, layers)
	want := map[string]Value{
		"heartbeat_interval": {"5s", "pc.pc1"},
		"concurrency":        {int64(6), "group.b-late"},
		"output_cap":         {int64(4096), "group.a-soon"},
		"inventory_interval": {"24h", "builtin"},
	}
	for k, w := range want {
		if eff[k] != w {
			t.Errorf("%s = %+v, want %+v", k, eff[k], w)
		}
	}
	if Duration(eff, "heartbeat_interval") != 5*time.Second || Int(eff, "concurrency") != 6 {
		t.Errorf("typed reads: %v %v", Duration(eff, "heartbeat_interval"), Int(eff, "concurrency"))
	}
}

func TestParseScope(t *testing.T) {
	for _, ok := range []string{"global", "group.office", "pc.pc-1"} {
		if err := ParseScope(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "globals", "group.", "group.a.b", "pc.*", "site.x"} {
		if err := ParseScope(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
