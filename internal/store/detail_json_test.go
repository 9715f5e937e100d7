package store

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"
)

// The encoded detail is cached until a write touches its execution.
func TestExecutionDetailJSONIsInvalidatedByWrites(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	id := "0b8e6c8e-3c0e-4e7b-9d7a-1a2b3c4d5e6f"
	e := Execution{ExecID: id, JobID: "j", Version: "1", InitiatedBy: "t", InitiatedAt: time.Now(), TargetCount: 2}
	if err := st.InsertExecution(ctx, e, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	encode := func(e Execution, rows []Result) ([]byte, error) {
		calls++
		return json.Marshal(map[string]any{"target_count": e.TargetCount, "rows": len(rows)})
	}
	for i := 0; i < 3; i++ {
		if _, err := st.ExecutionDetailJSON(ctx, id, encode); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Fatalf("encoded %d times for 3 unchanged reads, want 1", calls)
	}
	st.details.invalidate(id) // what every committing write does
	if _, err := st.ExecutionDetailJSON(ctx, id, encode); err != nil || calls != 2 {
		t.Fatalf("after a write: calls %d, err %v", calls, err)
	}
	if _, err := st.ExecutionDetailJSON(ctx, "00000000-0000-0000-0000-000000000000", encode); err != ErrNotFound {
		t.Fatalf("unknown execution: %v", err)
	}
}
