// Package systemd holds mailtls's systemd units (the service, and the optional socket for
// socket activation); its test runs systemd-analyze verify on them.
package systemd
