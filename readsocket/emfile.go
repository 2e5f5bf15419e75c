package readsocket

import "syscall"

// syscallEMFILE is accept's "too many open files": transient, retried after a pause.
const syscallEMFILE = syscall.EMFILE
