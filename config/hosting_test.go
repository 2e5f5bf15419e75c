package config

import (
	"strings"
	"testing"
)

// The hosting section: off by default, defaults shared by every domain, an explicit mx
// list or "auto" per domain.
func TestHostingSection(t *testing.T) {
	def, err := Load("")
	if err != nil || def.Hosting.Enabled() {
		t.Fatalf("hosting must be off by default: %v %+v", err, def.Hosting.Domains)
	}
	cfg, err := Parse([]byte(`
hosting:
  defaults: {mode: enforce, max_age: 86400}
  domains:
    - {domain: a.example}
    - {domain: b.example, mode: testing, mx: [mx1.b.example, "*.mail.b.example"], max_age: 600}
    - {domain: c.example, upstream: "https://mta-sts.provider.example/.well-known/mta-sts.txt"}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := &cfg.Hosting
	if !h.Enabled() || h.Listen != ":443" || h.MaxConnections < 1 {
		t.Fatalf("hosting %+v", h)
	}
	a := h.Effective(h.Domains[0])
	if a.Mode != "enforce" || !a.MX.Auto || a.MaxAge != 86400 {
		t.Errorf("a.example with defaults: %+v", a)
	}
	b := h.Effective(h.Domains[1])
	if b.Mode != "testing" || b.MX.Auto || b.MX.String() != "mx1.b.example,*.mail.b.example" || b.MaxAge != 600 {
		t.Errorf("b.example: %+v", b)
	}
}

func TestHostingErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{`{domains: [{domain: A.example}]}`, "hosting.domains.0.domain"},
		{`{domains: [{domain: a.example}, {domain: a.example}]}`, "listed twice"},
		{`{domains: [{domain: a.example, mode: strict}]}`, "hosting.domains.0.mode"},
		{`{domains: [{domain: a.example, mx: [bücher.example]}]}`, "hosting.domains.0.mx.0"},
		{`{domains: [{domain: a.example, mx: everything}]}`, `mx must be "auto" or a list`},
		{`{domains: [{domain: a.example, max_age: 99999999}]}`, "hosting.domains.0.max_age"},
		{`{domains: [{domain: a.example, upstream: "http://x.example/p"}]}`, "not an https URL"},
		{`{domains: [{domain: a.example, upstream: "https://x.example/p", mode: enforce}]}`, "takes mode, mx and max_age from the upstream"},
		{`{domains: [{domain: a.example, cert_file: /x.pem}]}`, "both cert_file and key_file"},
		{`{domains: [{domain: a.example, cert_file: /nonexistent.pem, key_file: /nonexistent.key}]}`, "no such file"},
		{`{acme: {directory: "ftp://ca.example"}}`, "hosting.acme.directory"},
		{`{acme: {eab: {kid: k1}}}`, "give both kid and hmac_key"},
		{`{acme: {eab: {kid: k1, hmac_key: "not base64!"}}}`, "hosting.acme.eab.hmac_key"},
		{`{address: [mta-sts.example]}`, "not an IP address"},
		{`{address: [192.0.2.1], cname: x.example}`, "not both"},
		{`{tlsrpt_rua: "tlsrpt@example.com"}`, "not a mailto: or https: URI"},
		{`{listen: "443"}`, "hosting.listen"},
		{`{defaults: {mode: ""}}`, "hosting.defaults.mode"},
	} {
		_, err := Parse([]byte("hosting: "+c.yaml+"\n"), "h.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.yaml, err, c.want)
		}
	}
}

// The per-domain policy fields are inlined: they are known keys, and a misspelt one is not.
func TestHostingInlineKeys(t *testing.T) {
	if _, err := Parse([]byte("hosting:\n  domains:\n    - {domain: a.example, mode: enforce, mx: auto, max_age: 600}\n"), "k.yaml"); err != nil {
		t.Fatalf("inlined keys refused: %v", err)
	}
	_, err := Parse([]byte("hosting:\n  domains:\n    - {domain: a.example, mdoe: enforce}\n"), "k.yaml")
	if err == nil || !strings.Contains(err.Error(), "hosting.domains.0.mdoe: unknown key") {
		t.Errorf("misspelt key: %v", err)
	}
}
