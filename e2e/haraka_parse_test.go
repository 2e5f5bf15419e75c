package e2e

import (
	"strings"
	"testing"
)

// Lines Haraka 3.3.4 logged in a run of scenario 11 (timestamps on), for the parser of
// its attempts.
const harakaLog = `2026-12-01T08:48:27.923Z [NOTICE] [1A79DE84-E930-4F4E-8C77-5ED80DC746DD.1] [core] queue code=OK msg="Message Queued (1A79DE84-E930-4F4E-8C77-5ED80DC746DD.1)"
2026-12-01T08:48:27.931Z [NOTICE] [1A79DE84-E930-4F4E-8C77-5ED80DC746DD.1.1] [mailtls] enforce.sts.test: OK secure (mta-sts) policy e2e1: only MX hosts matching mx.enforce.sts.test, TLS verified against the MX host name: delivering to mx.enforce.sts.test (10)
2026-12-01T08:48:27.933Z [INFO] [1A79DE84-E930-4F4E-8C77-5ED80DC746DD.1.1] [outbound] Temp failing 1796114907923_1796114907923_0_8564_jBNxyc_2_vm for 3600 seconds: No TLS available but required by configuration.
2026-12-01T08:48:28.096Z [NOTICE] [1A79DE84-E930-4F4E-8C77-5ED80DC746DD.1.1] [mailtls] enforce.sts.test: OK secure (mta-sts) policy e2e1: only MX hosts matching mx.enforce.sts.test, TLS verified against the MX host name: delivering to mx.enforce.sts.test (10)
2026-12-01T08:48:28.120Z [INFO] [1A79DE84-E930-4F4E-8C77-5ED80DC746DD.1.1] [outbound] secured verified=true cipher=TLS_AES_256_GCM_SHA384 version=TLSv1.3 cn=mx.good.dane.test organization="" issuer="" expires="Dec  2 08:48:20 2026 GMT" fingerprint=43:CC:FA:36:0A:04:1B:A3:FB:06:34:04:9F:36:A8:E8:A2:AB:11:56
2026-12-01T08:48:28.130Z [NOTICE] [1A79DE84-E930-4F4E-8C77-5ED80DC746DD.1.1] [outbound]  delivered file=1796114907923_1796118507933_1_8564_jBNxyc_3_vm domain=enforce.sts.test host=mx.enforce.sts.test ip=127.0.2.1 port=25 mode=SMTP tls=Y auth=N response="Ok: queued as 2347998E5FF" delay=0.265 fails=1 rcpts=1/0/0
2026-12-01T08:48:28.417Z [NOTICE] [4E3F09DC-C5FD-4A40-8BD1-828FFAC2D3C9.1.1] [mailtls] wrongname.sts.test: OK secure (mta-sts) policy e2e1: only MX hosts matching mx.wrongname.sts.test, TLS verified against the MX host name: delivering to mx.wrongname.sts.test (10)
2026-12-01T08:48:28.430Z [ERROR] [4E3F09DC-C5FD-4A40-8BD1-828FFAC2D3C9.1.1] [outbound] Ongoing connection failed to 127.0.2.2:25 : Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames: Host: mx.wrongname.sts.test. is not in the cert's altnames: DNS:mx.attacker.e2e.test
2026-12-01T08:48:28.431Z [INFO] [4E3F09DC-C5FD-4A40-8BD1-828FFAC2D3C9.1.1] [outbound] Temp failing 1796114908417_1796114908417_0_8564_1inJ4I_4_vm for 3600 seconds: Tried all MXs
`

// Lines of scenario 11.4 (DANE), from a passing run: the plugin's TLSA check at STARTTLS.
const harakaDANELog = `2026-12-01T12:32:59.080Z [NOTICE] [B01C55C0-5F28-4EC8-A7AF-01AB647DB813.1.1] [mailtls] good.dane.test: OK dane-only (dane): TLSA records of 1 MX host(s) from mailtls (DNSSEC-validated): delivering to mx.good.dane.test (10, DANE, 1 TLSA)
2026-12-01T12:32:59.101Z [NOTICE] [B01C55C0-5F28-4EC8-A7AF-01AB647DB813.1.1] [mailtls] good.dane.test: mx.good.dane.test: DANE verified: TLSA 3 1 1 eba84d9af5e69aba… matches the server certificate (DANE-EE, RFC 7672 §3.1.1: no name check)
2026-12-01T12:32:59.102Z [INFO] [B01C55C0-5F28-4EC8-A7AF-01AB647DB813.1.1] [outbound] secured verified=true cipher=TLS_AES_256_GCM_SHA384 version=TLSv1.3 cn=mx.good.dane.test organization="" issuer="" expires="Dec  2 12:32:51 2026 GMT" fingerprint=25:3D:91:E9:DC:17:EB:60:3D:3C:4E:5A:BE:1F:9E:EC:64:5C:C8:77
2026-12-01T12:32:59.171Z [NOTICE] [B01C55C0-5F28-4EC8-A7AF-01AB647DB813.1.1] [outbound]  delivered file=1796128379073_1796128379073_0_14885_UkvgsV_6_vm domain=good.dane.test host=mx.good.dane.test ip=127.0.1.1 port=25 mode=SMTP tls=Y auth=N response="Ok: queued as 1F35B9C4392" delay=0.098 fails=0 rcpts=1/0/0
2026-12-01T12:32:59.300Z [NOTICE] [702DB42C-5648-4802-8372-0A851B27BDB0.1.1] [mailtls] bad.dane.test: mx.bad.dane.test: DANE check failed, not delivering to this host: none of 1 usable TLSA record(s) matches the certificate chain (3 1 1 abababababababab…)
2026-12-01T12:32:59.301Z [ERROR] [702DB42C-5648-4802-8372-0A851B27BDB0.1.1] [outbound] Ongoing connection failed to 127.0.1.1:25 : Error: mailtls DANE: mx.bad.dane.test: none of 1 usable TLSA record(s) matches the certificate chain (3 1 1 abababababababab…)
2026-12-01T12:32:59.302Z [INFO] [702DB42C-5648-4802-8372-0A851B27BDB0.1.1] [outbound] Temp failing 1796128379299_1796128379299_0_14885_uw6wt3_7_vm for 3600 seconds: Tried all MXs
`

func TestParseHarakaDANEAttempt(t *testing.T) {
	a, ok := parseHarakaAttempt(harakaDANELog, "B01C55C0-5F28-4EC8-A7AF-01AB647DB813.1")
	if !ok || !a.delivered || !a.tls || a.verified != "dane" || a.host != "mx.good.dane.test" {
		t.Errorf("good: ok=%v %+v", ok, a)
	}
	// Without the plugin's line, the same delivery counts as verified by the CA only.
	noCheck := strings.Replace(harakaDANELog, "DANE verified", "something else", 1)
	if a, ok := parseHarakaAttempt(noCheck, "B01C55C0-5F28-4EC8-A7AF-01AB647DB813.1"); !ok || a.verified != "ca" {
		t.Errorf("good without the DANE line: ok=%v %+v", ok, a)
	}
	a, ok = parseHarakaAttempt(harakaDANELog, "702DB42C-5648-4802-8372-0A851B27BDB0.1")
	if !ok || a.delivered || a.tls || !strings.Contains(a.reason, (&harakaMTA{}).reason(deferDANE)) {
		t.Errorf("bad: ok=%v %+v", ok, a)
	}
}

func TestParseHarakaAttempt(t *testing.T) {
	const stripped = "1A79DE84-E930-4F4E-8C77-5ED80DC746DD.1"
	a, ok := parseHarakaAttempt(harakaLog, stripped)
	if !ok || a.delivered || a.tls || !strings.Contains(a.reason, "No TLS available but required by configuration.") || !strings.Contains(a.reason, "[mailtls] enforce.sts.test: OK secure") {
		t.Errorf("first attempt: ok=%v %+v", ok, a)
	}
	// After the deferral (a later mark): the delivery with verified TLS.
	later := harakaLog[strings.Index(harakaLog, "2026-12-01T08:48:28.096Z"):]
	a, ok = parseHarakaAttempt(later, stripped)
	if !ok || !a.delivered || a.host != "mx.enforce.sts.test" || a.addr != "127.0.2.1" || !a.tls || a.verified != "ca" {
		t.Errorf("retry: ok=%v %+v", ok, a)
	}
	a, ok = parseHarakaAttempt(harakaLog, "4E3F09DC-C5FD-4A40-8BD1-828FFAC2D3C9.1")
	if !ok || a.delivered || !strings.Contains(a.reason, "ERR_TLS_CERT_ALTNAME_INVALID") || !strings.Contains(a.reason, "Tried all MXs") {
		t.Errorf("wrong name: ok=%v %+v", ok, a)
	}
	// Another transaction's lines are not this one's; an unfinished attempt is not one.
	if _, ok := parseHarakaAttempt(harakaLog, "1A79DE84-E930-4F4E-8C77-5ED80DC746D"); ok {
		t.Error("a prefix of another id matched")
	}
	if _, ok := parseHarakaAttempt(harakaLog[:strings.Index(harakaLog, "2026-12-01T08:48:27.933Z")], stripped); ok {
		t.Error("an attempt without its end was taken as finished")
	}
}
