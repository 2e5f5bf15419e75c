package dnsclient

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestServersFromResolvConf(t *testing.T) {
	tests := []struct {
		rule    string
		content string
		want    []string
		wantErr bool
	}{
		{"resolv.conf(5): nameserver lines in order, port 53",
			"# generated\nsearch example.\nnameserver 127.0.0.1\nnameserver 192.0.2.53 # second\noptions edns0\n",
			[]string{"127.0.0.1:53", "192.0.2.53:53"}, false},
		{"IPv6 bracketed, zone kept",
			"nameserver ::1\nnameserver fe80::1%eth0\n",
			[]string{"[::1]:53", "[fe80::1%eth0]:53"}, false},
		{"comments and non-IP values ignored",
			"; nameserver 10.0.0.1\n#nameserver 10.0.0.2\nnameserver resolver.example\nnameserver\n\tnameserver\t127.0.0.53\n",
			[]string{"127.0.0.53:53"}, false},
		{"no nameserver → error", "search example.\n", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "resolv.conf")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ServersFromResolvConf(path)
			if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, %v; want %v (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
	if _, err := ServersFromResolvConf(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing file: no error")
	}
}
