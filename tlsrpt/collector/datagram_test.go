package collector

import (
	"strconv"
	"strings"
	"testing"

	"github.com/mailtls/mailtls/tlsrpt"
)

// postfix31013 is what real Postfix 3.10.13 with libtlsrpt 0.5.0rc1 sent (spec §1).
const postfix31013 = "{\"d\": \"good.s.lab\",\"pr\": \"v=TLSRPTv1; rua=mailto:tlsrpt@good.s.lab\",\"policies\":[{\"policy-type\":2," +
	"\"policy-domain\": \"good.s.lab\",\"policy-string\":[\"version: STSv1\",\"mode: enforce\"," +
	"\"mx: mail.good.s.lab\",\"max_age: 86400\"],\"mx-host\":[\"mail.good.s.lab\"],\"failure-details\":[{\"c\":205," +
	"\"s\": \"127.0.0.1\",\"n\": \"mail.good.s.lab\",\"h\": \"250-mail.good.s.lab\\r\\n250 STARTTLS\"," +
	"\"r\": \"127.0.0.10\",\"f\": \"self-signed_certificate\"}],\"t\":1,\"f\":1}]}"

func TestParseRealPostfixDatagram(t *testing.T) {
	r, err := ParseDatagram([]byte(postfix31013))
	if err != nil {
		t.Fatal(err)
	}
	if r.Domain != "good.s.lab" || r.Record != "v=TLSRPTv1; rua=mailto:tlsrpt@good.s.lab" || len(r.Policies) != 1 {
		t.Fatalf("%+v", r)
	}
	p := r.Policies[0]
	if p.Policy.Type != tlsrpt.PolicySTS || p.Policy.Domain != "good.s.lab" || len(p.Policy.String) != 4 || p.Policy.MXHost[0] != "mail.good.s.lab" || !p.Failed {
		t.Fatalf("policy %+v", p)
	}
	want := tlsrpt.FailureDetail{ResultType: tlsrpt.ValidationFailure, SendingMTAIP: "127.0.0.1", ReceivingMXHostname: "mail.good.s.lab",
		ReceivingMXHelo: "mail.good.s.lab", ReceivingIP: "127.0.0.10", FailedSessionCount: 1, FailureReasonCode: "self-signed_certificate"}
	if len(p.Details) != 1 || p.Details[0] != want {
		t.Fatalf("details %+v, want %+v", p.Details, want)
	}
}

func TestParseDatagramShapesAndRejections(t *testing.T) {
	const pr = `"pr":"v=TLSRPTv1;rua=https://r.example/x"`
	good := map[string]func(*Result) string{
		`{"dpv":"1","d":"Example.COM.",` + pr + `,"policies":[{"policy-type":1,"policy-domain":"_25._tcp.mx.example.com","policy-string":["3 1 1 AB"],"t":0,"f":0}]}`: func(r *Result) string {
			if r.Domain != "example.com" || r.Policies[0].Policy.Type != tlsrpt.PolicyTLSA || r.Policies[0].Failed {
				return "tlsa success"
			}
			return ""
		},
		`{"d":"example.com",` + pr + `,"policies":[{"policy-type":9,"policy-string":["junk"],"t":0,"f":0}]}`: func(r *Result) string {
			p := r.Policies[0].Policy
			if p.Type != tlsrpt.PolicyNotFound || p.Domain != "example.com" || p.String != nil {
				return "no-policy-found takes d as domain and no strings"
			}
			return ""
		},
		`{"d":"example.com",` + pr + `,"policies":[{"policy-type":2,"failure-details":[{"c":201,"h":"250 mx.example.com ESMTP","s":"::ffff:192.0.2.1"}],"t":1,"f":1}]}`: func(r *Result) string {
			d := r.Policies[0].Details[0]
			if d.ResultType != tlsrpt.StartTLSNotSupported || d.ReceivingMXHelo != "mx.example.com" || d.SendingMTAIP != "192.0.2.1" {
				return "helo from single 250 line, mapped ip"
			}
			return ""
		},
		`{"d":"example.com",` + pr + `,"policies":[{"policy-type":2,"failure-details":[{"c":203,"h":"220 hello\r\nEHLO","n":"not a host"}],"t":1,"f":1}]}`: func(r *Result) string {
			d := r.Policies[0].Details[0]
			if d.ReceivingMXHelo != "" || d.ReceivingMXHostname != "" {
				return "implausible names must be dropped"
			}
			return ""
		},
		`{"d":"example.com",` + pr + `,"policies":[{"policy-type":2,"failure-details":[{"c":203}],"t":1,"f":0}]}`: func(r *Result) string {
			if r.Policies[0].Failed || len(r.Policies[0].Details) != 0 {
				return "a success keeps no failure details"
			}
			return ""
		},
	}
	for in, check := range good {
		r, err := ParseDatagram([]byte(in))
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if msg := check(r); msg != "" {
			t.Errorf("%s: %s: %+v", in, msg, r)
		}
	}
	bads := map[string]string{
		``:                                 ReasonSize,
		strings.Repeat(" ", MaxDatagram+1): ReasonSize,
		`not json`:                         ReasonJSON,
		`[1,2]`:                            ReasonJSON,
		`{"dpv":"2","d":"example.com",` + pr + `,"policies":[{"policy-type":2,"t":0,"f":0}]}`:                                                   ReasonVersion,
		`{` + pr + `,"policies":[{"policy-type":2,"t":0,"f":0}]}`:                                                                               ReasonMissing,
		`{"d":"example.com","policies":[{"policy-type":2,"t":0,"f":0}]}`:                                                                        ReasonMissing,
		`{"d":"example.com",` + pr + `}`:                                                                                                        ReasonMissing,
		`{"d":"example.com",` + pr + `,"policies":[{"t":0,"f":0}]}`:                                                                             ReasonMissing,
		`{"d":"ex ample.com",` + pr + `,"policies":[{"policy-type":2,"t":0,"f":0}]}`:                                                            ReasonInvalid,
		`{"d":"example.com",` + pr + `,"policies":[{"policy-type":3,"t":0,"f":0}]}`:                                                             ReasonInvalid,
		`{"d":"example.com",` + pr + `,"policies":[{"policy-type":2,"t":0,"f":2}]}`:                                                             ReasonInvalid,
		`{"d":"example.com",` + pr + `,"policies":[{"policy-type":2,"t":1000000,"f":1}]}`:                                                       ReasonTooMany,
		`{"d":"example.com",` + pr + `,"policies":[{"policy-type":2,"failure-details":[{"c":999}],"t":1,"f":1}]}`:                               ReasonInvalid,
		`{"d":"example.com",` + pr + `,"policies":[{"policy-type":2,"failure-details":[{"c":203,"s":"x"}],"t":1,"f":1}]}`:                       ReasonInvalid,
		`{"d":"example.com","pr":"v=TLSRPTv1; rua=ftp://x","policies":[{"policy-type":2,"t":0,"f":0}]}`:                                         ReasonRecord,
		`{"d":"example.com",` + pr + `,"policies":[` + strings.Repeat(`{"policy-type":2,"t":0,"f":0},`, 16) + `{"policy-type":2,"t":0,"f":0}]}`: ReasonTooMany,
	}
	for in, want := range bads {
		_, err := ParseDatagram([]byte(in))
		if reason, ok := IsBad(err); !ok || reason != want {
			t.Errorf("%.80q: err %v, want reason %s", in, err, want)
		}
	}
}

func TestEveryFailureCode(t *testing.T) {
	for code := 201; code <= 306; code++ {
		want, known := tlsrpt.ResultTypeForCode(code)
		if !known {
			continue
		}
		in := `{"d":"example.com","pr":"v=TLSRPTv1;rua=mailto:a@example.com","policies":[{"policy-type":2,"failure-details":[{"c":` +
			strconv.Itoa(code) + `}],"t":1,"f":1}]}`
		r, err := ParseDatagram([]byte(in))
		if err != nil || r.Policies[0].Details[0].ResultType != want {
			t.Errorf("code %d: %v %+v", code, err, r)
		}
	}
}
