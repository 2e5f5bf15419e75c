// Package e2e is mailtls's end-to-end suite: real mail through real Postfix, inside a
// network namespace of its own, with Knot DNS (signed and unsigned zones), Unbound as the
// validating resolver, MTA-STS policy hosts, receiving Postfix with STARTTLS, and an
// on-path attacker that strips STARTTLS or presents a certificate for the wrong name.
// Each scenario sends a message and asserts where it ends up and what Postfix logged; the
// same attacks are then run against other sending MTAs (Exim 4.96 from a Debian root,
// Haraka from integrations/haraka/node_modules) through their mailtls integrations.
//
// It needs root, Postfix, Unbound, Knot DNS, swaks and iproute2, and for the other MTAs
// the Debian roots scripts/install-test-deps.sh builds and node with the Haraka plugin's
// npm packages; see README.md. The package holds only tests and the helper programs
// under cmd/.
package e2e
