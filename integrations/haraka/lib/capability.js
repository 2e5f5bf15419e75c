'use strict'
// What the running Haraka lets this plugin enforce per destination, found out at start-up
// from Haraka's own code (never assumed from a version number).
//
// Haraka 3.3.4 decides "forced TLS" (STARTTLS required, rejectUnauthorized, certificate
// checked against the MX host name given as servername) in HMailItem#try_deliver
// (outbound/hmail.js) by calling this.get_force_tls(mx), which only consults the static
// tls.ini [outbound] force_tls_hosts list. The plugin forces TLS for one message by giving
// that message's HMailItem its own get_force_tls (an own property, set and removed in the
// get_mx hook of each attempt); Haraka's prototype and shared configuration are untouched.

// check returns {forceTLS, version, why}: forceTLS is true only when Haraka's HMailItem
// has get_force_tls and try_deliver calls it.
function check(harakaRequire) {
    let version = 'unknown'
    try {
        version = harakaRequire('package.json').version
    } catch {
        // not fatal: the version is only reported
    }
    let HMailItem
    try {
        HMailItem = harakaRequire('outbound/hmail')
    } catch (err) {
        return { forceTLS: false, version, why: `cannot load Haraka's outbound/hmail: ${err.message}` }
    }
    const proto = HMailItem && HMailItem.prototype
    if (!proto || typeof proto.get_force_tls !== 'function' || typeof proto.try_deliver !== 'function') {
        return { forceTLS: false, version, why: 'HMailItem has no get_force_tls/try_deliver' }
    }
    if (!/this\.force_tls\s*=\s*this\.get_force_tls\(/.test(proto.try_deliver.toString())) {
        return { forceTLS: false, version, why: 'HMailItem#try_deliver does not call this.get_force_tls()' }
    }
    return { forceTLS: true, version, why: 'HMailItem#try_deliver calls this.get_force_tls()' }
}

// MINE marks every get_force_tls the plugin installs (here and in lib/dane.js).
const MINE = Symbol('mailtls get_force_tls')

// forcedTLS is the get_force_tls the plugin gives one message's HMailItem.
function forcedTLS() {
    return true
}
forcedTLS[MINE] = true

// force makes Haraka require verified TLS for every MX host of this delivery attempt, or
// decide per MX host with fn (a function marked with MINE).
function force(hmail, fn = forcedTLS) {
    if (!fn[MINE]) throw new Error('capability.force: not a mailtls get_force_tls')
    hmail.get_force_tls = fn
}

// unforce removes what force set, so the next attempt starts from Haraka's own rule.
function unforce(hmail) {
    if (Object.prototype.hasOwnProperty.call(hmail, 'get_force_tls') && hmail.get_force_tls && hmail.get_force_tls[MINE]) {
        delete hmail.get_force_tls
    }
}

// isForced reports whether the plugin decides hmail's forced TLS (for every host, or per
// host for DANE).
function isForced(hmail) {
    return Boolean(hmail.get_force_tls && hmail.get_force_tls[MINE])
}

module.exports = { check, force, unforce, isForced, MINE }
