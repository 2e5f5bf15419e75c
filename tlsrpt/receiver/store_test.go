package receiver

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func openTestStore(t testing.TB) *Store {
	t.Helper()
	st, err := Open(filepath.Join(t.TempDir(), "received.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestStoreDedupAndRaw(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	raw := []byte(rfcSample("id-1"))
	r, err := Parse(raw, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	o := Origin{Source: "https", Submitter: "127.0.0.1", Received: time.Unix(1700000000, 0)}
	if isNew, err := st.Put(ctx, r, raw, o); err != nil || !isNew {
		t.Fatalf("first put: new=%v err=%v", isNew, err)
	}
	if isNew, err := st.Put(ctx, r, raw, o); err != nil || isNew {
		t.Fatalf("second put: new=%v err=%v (want a duplicate)", isNew, err)
	}
	// Same report-id from another organisation is another report.
	r2 := *r
	r2.OrganizationName = "Company-Z"
	if isNew, err := st.Put(ctx, &r2, raw, o); err != nil || !isNew {
		t.Fatalf("other org: new=%v err=%v", isNew, err)
	}
	if n, _ := st.Count(ctx); n != 2 {
		t.Fatalf("%d reports stored, want 2", n)
	}
	got, err := st.Raw(ctx, "Company-X", "id-1")
	if err != nil || string(got) != string(raw) {
		t.Fatalf("raw not kept: %v", err)
	}
	var nf int
	st.db.QueryRow("SELECT count(*) FROM rx_failures").Scan(&nf)
	if nf != 6 {
		t.Fatalf("%d failure rows, want 6 (3 per report)", nf)
	}
}

func TestStoreRefusesForeignFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.db")
	os.WriteFile(p, []byte("not sqlite at all, and long enough to look like a header......"), 0o600)
	if _, err := Open(p); err == nil {
		t.Fatal("opened a foreign file")
	}
	b, _ := os.ReadFile(p)
	if string(b[:10]) != "not sqlite" {
		t.Fatal("foreign file changed")
	}
}
