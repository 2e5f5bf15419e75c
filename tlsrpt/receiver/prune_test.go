package receiver

import (
	"context"
	"testing"
	"time"
)

func TestPrune(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	for i, id := range []string{"a", "b", "c"} {
		r, err := Parse([]byte(rfcSample(id)), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		r.DateRange.Start = r.DateRange.Start.AddDate(0, 0, i) // 2016-04-01, 02, 03
		if _, err := st.Put(ctx, r, nil, Origin{Source: "https"}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := st.Prune(ctx, time.Date(2016, 4, 3, 0, 0, 0, 0, time.UTC))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d: %v", n, err)
	}
	s, _ := st.Summary(ctx, SummaryQuery{})
	if len(s.Rows) != 1 || s.Rows[0].Day != "2016-04-03" {
		t.Fatalf("after prune: %+v", s.Rows)
	}
	var left int
	st.db.QueryRow("SELECT count(*) FROM rx_failures").Scan(&left)
	if left != 3 {
		t.Fatalf("%d failure rows left, want 3", left)
	}
	// A pruned report can come again (it is new again).
	r, _ := Parse([]byte(rfcSample("a")), Limits{})
	if isNew, err := st.Put(ctx, r, nil, Origin{Source: "https"}); err != nil || !isNew {
		t.Fatalf("re-put after prune: %v %v", isNew, err)
	}
}
