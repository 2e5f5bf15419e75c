package dnsclient

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailtls/mailtls/internal/dnstest"
)

// FuzzReply answers every question with arbitrary bytes (the message ID patched to match,
// so the reply reaches the parser) and checks that Lookup never panics and returns either
// an error that is one of the documented kinds or a Result whose records all have the
// asked type — whatever a broken or hostile resolver sends.
func FuzzReply(f *testing.F) {
	seed := func(m *dns.Msg) []byte {
		b, _ := m.Pack()
		return b
	}
	q := new(dns.Msg)
	q.SetQuestion("_mta-sts.example.com.", dns.TypeTXT)
	ok := new(dns.Msg)
	ok.SetReply(q)
	ok.Answer = append(ok.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: "_mta-sts.example.com.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300}, Txt: []string{"v=STSv1; id=1;"}})
	cn := new(dns.Msg)
	cn.SetReply(q)
	cn.Answer = append(cn.Answer, &dns.CNAME{Hdr: dns.RR_Header{Name: "_mta-sts.example.com.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 300}, Target: "_mta-sts.example.com."})
	f.Add(seed(ok))
	f.Add(seed(cn))
	f.Add([]byte{0, 0, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0})
	f.Add([]byte{})

	var mu sync.Mutex
	var payload []byte
	srv := dnstest.New(f)
	srv.SetHandler(func(w dns.ResponseWriter, r *dns.Msg) bool {
		mu.Lock()
		b := append([]byte(nil), payload...)
		mu.Unlock()
		if len(b) >= 2 {
			binary.BigEndian.PutUint16(b, r.Id)
		}
		w.Write(b)
		return true
	})
	c, err := New(Config{Servers: []string{srv.Addr}, Timeout: 50 * time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, reply []byte) {
		mu.Lock()
		payload = reply
		mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		res, err := c.Lookup(ctx, "_mta-sts.example.com", dns.TypeTXT)
		if err != nil {
			for _, known := range []error{ErrServFail, ErrTimeout, ErrRefused, ErrMalformed, ErrCNAMELoop} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("undocumented error kind: %v", err)
		}
		for _, rr := range res.Records {
			if rr.Header().Rrtype != dns.TypeTXT {
				t.Fatalf("record of another type returned: %v", rr)
			}
		}
	})
}
