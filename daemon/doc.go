// Package daemon assembles a running mailtls from its configuration: the DNS client, the
// MTA-STS fetcher, the cache and its persistent store, the policy engine, the Postfix
// socketmap listeners, the control socket for the CLI and the background refresher. It
// owns start-up and orderly shutdown; the protocol logic lives in the packages it wires.
package daemon
