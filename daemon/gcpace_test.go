package daemon

import (
	"strings"
	"testing"

	"github.com/mailtls/mailtls/config"
)

// The daemon paces the collector by cache.gc_headroom unless the setting is 0 or the
// operator's GOGC or GOMEMLIMIT rules.
func TestGCHeadroom(t *testing.T) {
	def, err := config.Parse([]byte("{}"), "default")
	if err != nil {
		t.Fatal(err)
	}
	if def.Cache.GCHeadroom != 64<<20 {
		t.Fatalf("default cache.gc_headroom = %d, want 64 MiB", def.Cache.GCHeadroom)
	}
	off, err := config.Parse([]byte("cache:\n  gc_headroom: 0\n"), "off.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  *config.Config
		env  map[string]string
		want int64
		why  string
	}{
		{"default", def, nil, 64 << 20, ""},
		{"unrelated environment", def, map[string]string{"GODEBUG": "x=1"}, 64 << 20, ""},
		{"off in the configuration", off, nil, 0, "cache.gc_headroom is 0"},
		{"GOGC set", def, map[string]string{"GOGC": "200"}, 0, "GOGC=200 is set"},
		{"GOGC set but empty", def, map[string]string{"GOGC": ""}, 0, "GOGC= is set"},
		{"GOMEMLIMIT set", def, map[string]string{"GOMEMLIMIT": "360MiB"}, 0, "GOMEMLIMIT=360MiB is set"},
	} {
		got, why := gcHeadroom(tc.cfg, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
		if got != tc.want || !strings.Contains(why, tc.why) || (tc.why == "") != (why == "") {
			t.Errorf("%s: gcHeadroom = %d, %q; want %d, %q", tc.name, got, why, tc.want, tc.why)
		}
	}
}
