// Package growstack lets a goroutine that is about to run a deep call chain take the
// stack it will need in one step.
//
// A new goroutine starts with a small stack (2 KiB, or the runtime's running average of
// the stacks it scanned) and the runtime doubles it whenever a call does not fit: each
// doubling allocates a new stack, copies the old one and adjusts every frame on it, which
// means reading the frames' stack maps. A cold lookup's goroutines run deep chains
// (singleflight, the DNS client, miekg/dns, the socket dial) that need 8–16 KiB, so
// they used to grow three times at the bottom of that chain, on the answer's critical
// path: 20–30 µs per cold DANE answer on the development machine, against a DNS floor
// of 0.25 ms (BENCHMARKS.md, "Cold answers"). Growing once at the top, where the stack
// holds a frame or two, copies almost nothing.
package growstack

// Size is the stack a goroutine has after Grow: 16 KiB, the largest size the runtime
// still takes from its per-processor stack cache on the usual platforms.
const Size = 16 << 10

// frame is Grow's own frame: big enough that the runtime, growing a 2 KiB stack to fit
// it, goes straight to Size, and small enough that it does not go past it (the runtime
// also keeps a guard area below the frame).
const frame = 12 << 10

// Grow makes the calling goroutine's stack at least Size in one step, if it is smaller.
// Call it first thing in a goroutine that will make network calls through deep library
// code. It costs the clearing of its frame (a few hundred nanoseconds) when the stack is
// already large enough.
//
//go:noinline
func Grow() { touch(0) }

// touch holds the frame: an array indexed by a value the compiler cannot see through,
// so the array is neither removed nor moved to the heap.
//
//go:noinline
func touch(n int) byte {
	var buf [frame]byte
	buf[n%frame] = byte(n)
	return buf[(n+1)%frame]
}
