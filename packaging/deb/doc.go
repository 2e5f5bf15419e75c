// Package deb holds the Debian package's definition (nfpm.yaml, built by scripts/deb.sh
// with nfpm) and its maintainer scripts; its test installs, upgrades, removes and purges
// the package with dpkg in a throwaway Debian root, never on the machine itself.
package deb
