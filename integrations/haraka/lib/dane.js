'use strict'
// DANE for Haraka's outbound delivery (RFC 7672) with the TLSA records mailtls validated.
//
// Haraka 3.3.4 has no DANE, and Node's resolver gives neither TLSA records nor the AD bit,
// so the plugin takes the MX hosts and their usable TLSA records from mailtls's answer
// ("dane" member of GET /v1/policy/{domain}) and checks the server's certificate in the
// one place Haraka lets it: at STARTTLS, HMailItem#try_deliver_host_on_socket
// (outbound/hmail.js) builds the TLS options with obtls.get_tls_options(mx) (outbound/tls.js),
// sets rejectUnauthorized under forced TLS, and hands them to Node's tls.connect
// (tls_socket.js socket.upgrade). The plugin wraps get_tls_options once: for an mx object
// that its own per-message get_force_tls marked (try_deliver calls get_force_tls(mx) with
// the same object, just before), it adds a checkServerIdentity that verifies the peer's
// chain against that host's TLSA records (lib/tlsa.js). A returned Error makes Node abort
// the handshake (rejectUnauthorized), Haraka tries the next MX host, then defers.
//
// The limit: Node calls checkServerIdentity only after OpenSSL verified the chain against
// the trust store (Node's roots plus NODE_EXTRA_CA_CERTS). So a DANE host is used only when
// its chain is also publicly trusted (or trusted by NODE_EXTRA_CA_CERTS); otherwise the
// handshake fails first and the message is deferred, never sent unverified.

const { MINE } = require('./capability')
const { normalize } = require('./mx')
const { verify } = require('./tlsa')

const TAG = Symbol('mailtls DANE host') // on the mx objects the plugin checks
const HOOKED = Symbol('mailtls get_tls_options wrapped') // on Haraka's outbound TLS singleton

// What Haraka's code must do for the check to happen, read from its source at start-up.
const REQUIRED = [
    ['HMailItem#try_deliver', /this\.force_tls\s*=\s*this\.get_force_tls\(mx\)/, 'calls this.get_force_tls(mx)'],
    ['HMailItem#try_deliver', /try_deliver_host_on_socket\(mx,/, 'hands the same mx to try_deliver_host_on_socket'],
    ['HMailItem#try_deliver_host_on_socket', /obtls\.get_tls_options\(mx\)/, 'builds the STARTTLS options with obtls.get_tls_options(mx)'],
    ['HMailItem#try_deliver_host_on_socket', /if\s*\(self\.force_tls\)\s*tls_options\.rejectUnauthorized\s*=\s*true/, 'sets rejectUnauthorized under forced TLS'],
    ['HMailItem#try_deliver_host_on_socket', /socket\.upgrade\(tls_options,/, 'passes those options to socket.upgrade'],
    ['tls_socket.connect', /tls\.connect\(options\)/, "passes the upgrade options to Node's tls.connect"],
]

// check returns {dane, why}: dane is true when the running Haraka builds its STARTTLS
// options the way this module relies on.
function check(harakaRequire) {
    let HMailItem, obtls, tlsSocket
    try {
        HMailItem = harakaRequire('outbound/hmail')
        obtls = harakaRequire('outbound/tls')
        tlsSocket = harakaRequire('tls_socket')
    } catch (err) {
        return { dane: false, why: `cannot load Haraka's outbound modules: ${err.message}` }
    }
    if (!obtls || typeof obtls.get_tls_options !== 'function') {
        return { dane: false, why: 'outbound/tls has no get_tls_options' }
    }
    const proto = HMailItem && HMailItem.prototype
    const sources = {
        'HMailItem#try_deliver': proto && typeof proto.try_deliver === 'function' ? proto.try_deliver.toString() : '',
        'HMailItem#try_deliver_host_on_socket':
            proto && typeof proto.try_deliver_host_on_socket === 'function' ? proto.try_deliver_host_on_socket.toString() : '',
        'tls_socket.connect': tlsSocket && typeof tlsSocket.connect === 'function' ? tlsSocket.connect.toString() : '',
    }
    for (const [where, re, what] of REQUIRED) {
        if (!re.test(sources[where])) return { dane: false, why: `${where} no longer ${what}` }
    }
    return { dane: true, why: 'STARTTLS options come from outbound/tls get_tls_options(mx), checked by Node with rejectUnauthorized' }
}

// hook wraps obtls.get_tls_options (once per Haraka process): an mx marked with TAG gets a
// checkServerIdentity that runs the DANE check; every other mx gets Haraka's options
// unchanged.
function hook(obtls) {
    if (obtls[HOOKED]) return
    const original = obtls.get_tls_options
    obtls.get_tls_options = function (mx) {
        const options = original.call(this, mx)
        const host = mx && mx[TAG]
        if (host) {
            options.checkServerIdentity = host.checkServerIdentity
            delete options.session // a resumed session skips checkServerIdentity in Node
        }
        return options
    }
    obtls[HOOKED] = true
}

// tlsaHost builds the check of one MX host: checkServerIdentity(servername, peer) returns
// undefined when the chain matches host.tlsa, else an Error (Node then aborts the
// handshake). log(level, message) reports each result.
function tlsaHost(host, log) {
    const names = [...new Set([normalize(host.name), normalize(host.tlsa_base)].filter(Boolean))]
    return {
        name: normalize(host.name),
        checkServerIdentity(servername, peer) {
            const r = verify(host.tlsa, peer, names)
            if (r.ok) {
                log('notice', `${names[0]}: DANE verified: ${r.why}`)
                return undefined
            }
            log('notice', `${names[0]}: DANE check failed, not delivering to this host: ${r.why}`)
            const err = new Error(`mailtls DANE: ${names[0]}: ${r.why}`)
            err.code = 'ERR_MAILTLS_DANE_MISMATCH'
            return err
        },
    }
}

// deny is the check of an mx the plugin did not expect: it always fails.
function deny(name, log) {
    return {
        name,
        checkServerIdentity() {
            log('error', `${name}: not among mailtls's DANE hosts for this message: not delivering to it`)
            const err = new Error(`mailtls DANE: ${name} is not a DANE host of this message`)
            err.code = 'ERR_MAILTLS_DANE_UNKNOWN_HOST'
            return err
        },
    }
}

// forceTLS returns the get_force_tls one message's HMailItem gets for a DANE answer:
// hosts with TLSA records (byName: name → tlsaHost) are forced and marked for the DANE
// check; opportunistic names (a "dane" answer's hosts without TLSA, RFC 7672 §2.2) get
// Haraka's own rule; any other host is forced and fails the check (fail closed).
function forceTLS(byName, opportunistic, log) {
    const fn = function (mx) {
        const name = normalize(mx && (mx.from_dns || mx.exchange))
        const host = byName.get(name)
        if (host) {
            mx[TAG] = host
            return true
        }
        if (opportunistic.has(name)) return Object.getPrototypeOf(this).get_force_tls.call(this, mx)
        mx[TAG] = deny(name, log)
        return true
    }
    fn[MINE] = true
    return fn
}

module.exports = { check, hook, tlsaHost, deny, forceTLS, TAG, HOOKED }
