package growstack

import (
	"sync"
	"testing"
)

// deep recurses n times through frames of about 200 bytes each, like a chain of library
// calls, and returns something of every frame so the compiler keeps them.
//
//go:noinline
func deep(n int) int {
	var pad [24]int
	pad[n%len(pad)] = n
	if n == 0 {
		return pad[0]
	}
	return deep(n-1) + pad[(n+1)%len(pad)]
}

// A goroutine that grows first still runs a deep chain and returns its result.
func TestGrowThenDeepChain(t *testing.T) {
	want := deep(60)
	var got int
	var wg sync.WaitGroup
	wg.Go(func() {
		Grow()
		got = deep(60)
	})
	wg.Wait()
	if got != want {
		t.Fatalf("deep chain after Grow = %d, want %d", got, want)
	}
}

// BenchmarkGoroutineDeepChain starts a goroutine that runs a call chain of about 12 KiB
// of stack, as a cold lookup's goroutine does, without and with Grow first: the
// difference is the cost of growing the stack frame by frame.
func BenchmarkGoroutineDeepChain(b *testing.B) {
	for _, grow := range []bool{false, true} {
		name := "plain"
		if grow {
			name = "grown"
		}
		b.Run(name, func(b *testing.B) {
			done := make(chan int)
			for b.Loop() {
				go func() {
					if grow {
						Grow()
					}
					done <- deep(60)
				}()
				<-done
			}
		})
	}
}
