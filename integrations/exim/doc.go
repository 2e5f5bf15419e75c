// Package exim holds the Exim (>= 4.96) integration of mailtls — configuration files for
// Debian's split configuration (00_mailtls_macros, 150_mailtls, 30_mailtls, README.md) —
// and the test that checks them with a real Exim: the configuration is accepted (exim -bV)
// and its router conditions, evaluated by Exim itself against mailtls's readsocket
// listener, say what each mailtls answer requires.
package exim
