// Package scripts holds the shell entry points of make (test dependencies, fuzzing, the
// side-by-side comparison); its tests check what the scripts do to the machine they run on.
package scripts
