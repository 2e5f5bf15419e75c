package daemon

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// The audit log's lines are not written one by one: an answer appends its line to a
// batch in memory and goes on; the batch is written with one write(2) when it reaches
// auditFlushSize, or auditFlushDelay after its first line, whichever comes first, and on
// close (reload, SIGHUP, shutdown). An answer never waits on the disk: the write runs on a
// goroutine of its own while the next batch fills. A crash loses at most the batch being
// filled and the one being written: the lines of the last auditFlushDelay, and with a disk
// that has stalled, at most auditMaxPending bytes.
const (
	auditFlushDelay = 100 * time.Millisecond
	auditFlushSize  = 64 << 10
	// auditMaxPending bounds the lines waiting for a stalled disk: a line that would take
	// the batch past it is dropped, and counted, instead of making answers wait or memory
	// grow.
	auditMaxPending = 1 << 20
)

var (
	errAuditClosed  = errors.New("audit log closed")
	errAuditBacklog = errors.New("audit log: 1 MiB of lines waiting for the disk; line dropped")
)

// auditWriter batches lines for one file (or standard output). It is safe for concurrent
// use; its timer and flush goroutines exist only while lines wait, and close waits for them.
type auditWriter struct {
	lost func(lines int, err error) // called for the lines a write could not write

	mu      sync.Mutex // guards the fields up to wmu
	pending []byte     // the batch being filled
	armed   bool       // the timer is set for the batch (or a flush is about to take it)
	kicked  bool       // a flush for the size bound has started for the batch
	closed  bool
	timer   *time.Timer    // AfterFunc(flush); nil until the first line
	flushes sync.WaitGroup // set timers and started flushes

	wmu   sync.Mutex // held while writing: guards out, file and spare
	out   io.Writer
	file  *os.File // nil for standard output
	spare []byte   // the batch buffer not being filled, reused
}

// add appends one line (with its newline) to the batch.
func (w *auditWriter) add(line []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errAuditClosed
	}
	if len(w.pending)+len(line) > auditMaxPending {
		return errAuditBacklog
	}
	w.pending = append(w.pending, line...)
	if !w.armed {
		w.armed = true
		w.flushes.Add(1)
		if w.timer == nil {
			w.timer = time.AfterFunc(auditFlushDelay, w.flushed)
		} else if w.timer.Reset(auditFlushDelay) {
			w.flushes.Done() // it was still set for a batch a size flush took: one call, not two
		}
	}
	if len(w.pending) >= auditFlushSize && !w.kicked {
		w.kicked = true
		w.flushes.Add(1)
		go w.flushed()
	}
	return nil
}

// flushed is flush for the timer and the size bound, counted in flushes.
func (w *auditWriter) flushed() {
	defer w.flushes.Done()
	w.flush()
}

// flush writes the batch, if any, while a new one fills.
func (w *auditWriter) flush() {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.mu.Lock()
	b := w.pending
	w.pending, w.spare = w.spare[:0], nil
	w.armed, w.kicked = false, false
	w.mu.Unlock()
	if len(b) > 0 {
		if n, err := w.out.Write(b); err != nil {
			w.lost(bytes.Count(b[n:], []byte{'\n'}), err)
		}
	}
	w.spare = b[:0]
}

// close writes what waits, stops the timer, waits for running writes and closes the file.
// Lines added later are refused with errAuditClosed. It is idempotent.
func (w *auditWriter) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	if w.timer != nil && w.timer.Stop() {
		w.flushes.Done()
	}
	w.mu.Unlock()
	w.flushes.Wait()
	w.flush()
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.file != nil {
		w.file.Close()
	}
}
