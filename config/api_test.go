package config

import (
	"strings"
	"testing"
)

// Issue 18: the HTTP API may run without a token only on loopback; readsocket listeners
// are checked like socketmap ones; the default profile must exist.
func TestAPIValidation(t *testing.T) {
	cases := []struct{ yaml, err string }{
		{`api: {http: "127.0.0.1:8462"}`, ""},
		{`api: {http: "[::1]:8462"}`, ""},
		{`api: {http: "localhost:8462"}`, ""},
		{`api: {http: "0.0.0.0:8462"}`, "api.token"},
		{`api: {http: ":8462"}`, "api.token"},
		{`api: {http: "192.0.2.1:8462", token: t0k}`, ""},
		{`api: {http: "127.0.0.1"}`, "api.http"},
		{`api: {http: "127.0.0.1:http"}`, "api.http"},
		{`api: {http: "127.0.0.1:8462", profile: nope}`, "api.profile"},
		{`api: {readsocket: [{tcp: "127.0.0.1:8463"}, {unix: /run/m.sock, mode: "0660"}]}`, ""},
		{`api: {readsocket: [{tcp: "127.0.0.1:8463", unix: /run/m.sock}]}`, "api.readsocket.0"},
		{`api: {readsocket: [{unix: /run/m.sock, mode: "99"}]}`, "api.readsocket.0.mode"},
		{`api: {readsocket: [{tcp: "127.0.0.1:1", mode: "0600"}]}`, "api.readsocket.0"},
		{`api: {max_connections: -1}`, "api.max_connections"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.yaml), "t.yaml")
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.yaml, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one about %s", c.yaml, err, c.err)
		}
	}
}
