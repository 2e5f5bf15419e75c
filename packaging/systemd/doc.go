// Package systemd holds mailtls's systemd unit; its test runs systemd-analyze verify on it.
package systemd
