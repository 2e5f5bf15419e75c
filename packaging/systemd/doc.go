// Package systemd holds mailtls's systemd units (the service, the optional socket for
// socket activation, the sysusers.d entry). Its tests run systemd-analyze verify on them
// and, where PID 1 is not systemd, run the daemon under the service's own sandbox settings
// (internal/unitexec: setpriv and a seccomp filter built from systemd's system call
// groups) to query it through a chrooted Postfix's spool socket as the postfix user.
package systemd
