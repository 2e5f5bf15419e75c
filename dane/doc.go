// Package dane decides the SMTP DANE facts for one destination domain (RFC 7672, with the
// TLSA rules of RFC 7671 and RFC 6698): whether its MX RRset is DNSSEC-secure, which MX
// hosts have secure addresses and a secure TLSA RRset, which TLSA records an SMTP client may
// use, and what that means for the domain as a whole (an Outcome).
//
// The package knows neither MTA-STS nor Postfix: the policy engine combines a Result with
// the MTA-STS stage and turns it into a socketmap answer (conformance.md §2–§3). DNS is
// asked through a dnsclient.Resolver, which must be backed by a DNSSEC-validating resolver
// whose AD bit can be trusted (RFC 7672 §2.1).
package dane
