package socketmap

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// Framing a reply costs no allocation per request (the connection's buffers are reused).
func TestWriteReplyAllocs(t *testing.T) {
	w := bufio.NewWriterSize(io.Discard, 64)
	reply := "OK secure match=mx1.example.com:.example.net servername=hostname"
	if n := testing.AllocsPerRun(100, func() { writeReply(w, reply); _ = w.Flush() }); n != 0 {
		t.Errorf("writeReply: %v allocations, want 0", n)
	}
	var b bytes.Buffer
	w = bufio.NewWriter(&b)
	writeReply(w, reply)
	w.Flush()
	if want := string(AppendNetstring(nil, []byte(reply))); b.String() != want {
		t.Errorf("writeReply wrote %q, want %q", b.String(), want)
	}
}
