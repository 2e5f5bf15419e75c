package main

import (
	"bufio"
	"reflect"
	"strings"
	"testing"
)

// The attacker must hide STARTTLS (RFC 3207 §4 leaves the plaintext fallback to the
// client) while keeping the reply well-formed (RFC 5321 §4.2.1: "-" on every line but
// the last).
func TestDropExtension(t *testing.T) {
	tests := []struct {
		name  string
		reply []string
		want  []string
	}{
		{"STARTTLS in the middle",
			[]string{"250-mx.example\r\n", "250-PIPELINING\r\n", "250-STARTTLS\r\n", "250 8BITMIME\r\n"},
			[]string{"250-mx.example\r\n", "250-PIPELINING\r\n", "250 8BITMIME\r\n"}},
		{"STARTTLS last: the line before becomes the last",
			[]string{"250-mx.example\r\n", "250-SIZE 1000\r\n", "250 STARTTLS\r\n"},
			[]string{"250-mx.example\r\n", "250 SIZE 1000\r\n"}},
		{"lower case keyword",
			[]string{"250-mx.example\r\n", "250-starttls\r\n", "250 DSN\r\n"},
			[]string{"250-mx.example\r\n", "250 DSN\r\n"}},
		{"no STARTTLS: unchanged",
			[]string{"250-mx.example\r\n", "250 DSN\r\n"},
			[]string{"250-mx.example\r\n", "250 DSN\r\n"}},
		{"single line reply is never touched",
			[]string{"250 STARTTLS\r\n"},
			[]string{"250 STARTTLS\r\n"}},
		{"only the keyword is matched, not a prefix",
			[]string{"250-mx.example\r\n", "250-STARTTLSX\r\n", "250 DSN\r\n"},
			[]string{"250-mx.example\r\n", "250-STARTTLSX\r\n", "250 DSN\r\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dropExtension(tt.reply, "STARTTLS"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// A reply ends at the first line whose fourth character is not "-" (RFC 5321 §4.2.1).
func TestReadReply(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("250-a\r\n250-b\r\n250 c\r\n220 next\r\n"))
	got, err := readReply(r)
	if err != nil || len(got) != 3 {
		t.Fatalf("first reply %q, %v", got, err)
	}
	got, err = readReply(r)
	if err != nil || !reflect.DeepEqual(got, []string{"220 next\r\n"}) {
		t.Fatalf("second reply %q, %v", got, err)
	}
	if _, err := readReply(r); err == nil {
		t.Fatal("want an error at end of input")
	}
}
