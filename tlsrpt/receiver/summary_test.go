package receiver

import (
	"context"
	"testing"
	"time"
)

func TestSummaryLimit(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	for i, id := range []string{"a", "b", "c"} {
		r, err := Parse([]byte(rfcSample(id)), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		r.DateRange.Start = r.DateRange.Start.AddDate(0, 0, i)
		if _, err := st.Put(ctx, r, nil, Origin{Source: "https", Received: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := st.Summary(ctx, SummaryQuery{Limit: 2})
	if err != nil || len(s.Rows) != 2 || !s.Truncated || s.Rows[1].ResultTypes["certificate-expired"] != 100 {
		t.Fatalf("limited summary: %+v %v", s, err)
	}
	s, err = st.Summary(ctx, SummaryQuery{})
	if err != nil || len(s.Rows) != 3 || s.Truncated || s.Rows[2].Day != "2016-04-03" || len(s.Rows[0].MXHosts) != 3 {
		t.Fatalf("full summary: %+v %v", s, err)
	}
}
