package httpapi

import (
	"net/url"
	"testing"
)

// profileParam reads the profile parameter exactly as url.Values does.
func FuzzProfileParam(f *testing.F) {
	for _, q := range []string{"", "profile=postfix", "profile=", "profile", "profile=a&profile=b", "x=1&profile=p&y",
		"&&profile=p&", "profile=a%20b", "pro%66ile=x", "profile=a+b", "profile=a;b", "profile=%zz", "profile=a=b",
		"PROFILE=p", "profile=%41&profile=%zz"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u := &url.URL{RawQuery: raw}
		first, n := profileParam(u)
		want := u.Query()["profile"]
		if n != len(want) || n > 0 && first != want[0] {
			t.Fatalf("%q: %q ×%d, url.Values has %q", raw, first, n, want)
		}
	})
}
