package daemon

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailtls/mailtls/cache"
	"github.com/mailtls/mailtls/cache/sqlitestore"
)

// Issue 11: a stored value refused for its checksum is counted in
// mailtls_store_corrupt_values_total.
func TestStoreCorruptMetric(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	st, err := sqlitestore.Open(path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Put(cache.Entry{Kind: "sts", Key: "m.example", Value: []byte("flip-me-please"), Updated: time.Now()})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("flip-me-please"))
	if i < 0 {
		t.Fatal("value not in the file")
	}
	b[i+3] ^= 1
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err = sqlitestore.Open(path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := newMetrics()
	m.watchStore(st)
	if _, ok, _ := st.Get(context.Background(), "sts", "m.example"); ok {
		t.Fatal("damaged value served")
	}
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "mailtls_store_corrupt_values_total" {
			found = true
			if v := mf.GetMetric()[0].GetCounter().GetValue(); v != 1 {
				t.Errorf("mailtls_store_corrupt_values_total = %v, want 1", v)
			}
		}
	}
	if !found {
		t.Error("mailtls_store_corrupt_values_total not exported")
	}
}
