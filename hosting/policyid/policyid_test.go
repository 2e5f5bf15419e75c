package policyid

import (
	"testing"

	"github.com/mailtls/mailtls/mtasts"
)

// RFC 8461 §3.1: the id is 1-32 alphanumerics; it must change with the content and only then.
func TestOf(t *testing.T) {
	a := []byte("version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmax_age: 86400\r\n")
	b := []byte("version: STSv1\r\nmode: testing\r\nmx: mx.example.com\r\nmax_age: 86400\r\n")
	idA := Of(a)
	if len(idA) != Len {
		t.Fatalf("id %q has length %d", idA, len(idA))
	}
	// The resolver's own record parser must accept it.
	if _, err := mtasts.ParseRecord("v=STSv1; id=" + idA); err != nil {
		t.Fatalf("id not accepted by the MTA-STS record parser: %v", err)
	}
	if Of(append([]byte(nil), a...)) != idA {
		t.Error("same body, different id")
	}
	if Of(b) == idA {
		t.Error("different body, same id")
	}
	if Of(a[:len(a)-2]) == idA {
		t.Error("line ending change kept the id")
	}
}
