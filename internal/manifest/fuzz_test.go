package manifest

import (
	"encoding/json"
	"reflect"
	"testing"
)

func seeds(f *testing.F, docs ...string) {
	for _, d := range docs {
		f.Add([]byte(d))
	}
}

// FuzzDecodeJob: the strict decoder never panics, and whatever it accepts
// survives JSON (KV) and YAML (?format=yaml) round trips unchanged.
func FuzzDecodeJob(f *testing.F) {
	seeds(f, goodJob, `{"id":"a","version":"1","execute":{"shell":"sh","script":"x","timeout":"1d"}}`,
		"id: a\nversion: 1.10\nexecute: {shell: cmd, script: \"a\\r\\n b \", timeout: 90s, env: {}}",
		"id: &x a\nversion: *x\nexecute: {shell: sh, script: x, timeout: 1m}", "", "[", "a: b: c")
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := DecodeJob(data)
		if err != nil {
			if _, ok := err.(Errors); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		raw, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeJob(raw)
		if err != nil || !reflect.DeepEqual(back, j) {
			t.Fatalf("json round trip:\n%+v\n%+v\n%v\n%s", j, back, err, raw)
		}
		y, err := ToYAML(j)
		if err != nil {
			t.Fatal(err)
		}
		if back, err = DecodeJob(y); err != nil || !reflect.DeepEqual(back, j) {
			t.Fatalf("yaml round trip:\n%+v\n%+v\n%v\n%s", j, back, err, y)
		}
	})
}

func FuzzDecodeSchedule(f *testing.F) {
	seeds(f, goodSchedule,
		"id: s\njob_id: j\ntarget: {all: true}\nwhen: {calendar: {at: '09:00', days: [mon-fri, tue#2, friL]}}",
		"id: s\njob_id: j\ntarget: {pcs: [a]}\nwhen: {calendar: {at: '2026-06-10 09:00'}}\ntz: Europe/Berlin",
		"id: s\njob_id: j\nrollout: {waves: [{group: g, delay: 1h, min_success: 95%}]}\nwhen: {per_target: once}",
		"when: {per_pc: {evry: 1h}}", "when: {per_pc: onc}", "when: {per_pc: {}}")
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSchedule(data)
		if err != nil {
			if _, ok := err.(Errors); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		raw, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeSchedule(raw)
		if err != nil || !reflect.DeepEqual(back, s) {
			t.Fatalf("json round trip:\n%+v\n%+v\n%v\n%s", s, back, err, raw)
		}
		if _, err := ReadSchedule(raw); err != nil {
			t.Fatalf("read path rejects a stored value: %v", err)
		}
	})
}
