'use strict'
// The pinned Haraka's own outbound code with the plugin's DANE check: a real HMailItem
// delivers over STARTTLS to an SMTP server on loopback that presents a certificate made
// for this run (test/certs.js). Its TLS options come from outbound/tls get_tls_options,
// wrapped by lib/dane.js; Node verifies the chain (trusting the test CA), then runs the
// TLSA check. Matching records → MAIL FROM inside TLS; no match → the handshake is
// aborted, nothing is sent, and Haraka defers.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const tls = require('node:tls')

// Haraka's modules read their configuration from $HARAKA/config: an empty one here.
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'mailtls-haraka-dane-'))
fs.mkdirSync(path.join(home, 'config'))
// The MX is on loopback: without local_mx_ok, Haraka would ask a public STUN server for its
// own address (haraka-net-utils is_local_host) before connecting.
fs.writeFileSync(path.join(home, 'config', 'outbound.ini'), 'local_mx_ok=true\n')
process.env.HARAKA = home
process.on('exit', () => fs.rmSync(home, { recursive: true, force: true }))

const { Address } = require('@haraka/email-address')
const Notes = require('haraka-notes')
const HMailItem = require('Haraka/outbound/hmail')
const qfile = require('Haraka/outbound/qfile')
const obtls = require('Haraka/outbound/tls')
const capability = require('../lib/capability')
const dane = require('../lib/dane')
const certs = require('./certs')

const c = certs.make(['mx.dane.test'])
test.after(() => certs.remove(c))

// starttlsServer answers like an MTA offering STARTTLS with cert (leaf + CA); it records
// the commands and whether each came over TLS. MAIL FROM inside TLS is refused with 421,
// so nothing is ever "sent"; what matters is that it was reached.
async function starttlsServer({ key, cert }) {
    const commands = []
    const tlsErrors = []
    const done = []
    const server = net.createServer((raw) => {
        let sock = raw
        let secure = false
        let buf = ''
        const onLine = (line) => {
            const verb = line.split(' ')[0].toUpperCase()
            commands.push(secure ? `tls:${verb}` : verb)
            if (verb === 'EHLO') sock.write(secure ? '250 dane.test\r\n' : '250-dane.test\r\n250 STARTTLS\r\n')
            else if (verb === 'STARTTLS' && !secure) {
                sock.write('220 go ahead\r\n')
                raw.removeAllListeners('data')
                sock = new tls.TLSSocket(raw, { isServer: true, key, cert })
                sock.on('error', (err) => tlsErrors.push(err.code || err.message))
                sock.on('data', onData)
                secure = true
            } else if (verb === 'MAIL') sock.end('421 closing\r\n')
            else if (verb === 'QUIT') sock.end('221 bye\r\n')
            else sock.write('502 no\r\n')
        }
        const onData = (d) => {
            buf += d
            let i
            while ((i = buf.indexOf('\r\n')) >= 0) {
                const line = buf.slice(0, i)
                buf = buf.slice(i + 2)
                onLine(line)
            }
        }
        raw.on('data', onData)
        raw.on('error', () => {})
        raw.on('close', () => done.shift()?.())
        raw.write('220 dane.test ESMTP\r\n')
    })
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    return {
        port: server.address().port,
        commands,
        tlsErrors,
        closed: () => new Promise((resolve) => done.push(resolve)),
        close: () => new Promise((r) => server.close(r)),
    }
}

// hmail.js finishes loading its queue module on the next turn of the event loop.
test.before(() => new Promise((resolve) => setImmediate(resolve)))

function hmailFor(port, uuid) {
    const h = new HMailItem(qfile.name({}), path.join(home, 'no-such-queue-file'))
    h.todo = {
        domain: 'dane.test',
        mail_from: new Address('<sender@example.org>'),
        rcpt_to: [new Address('<rcpt@dane.test>')],
        notes: new Notes(),
        queue_time: Date.now(),
        uuid,
    }
    // As Haraka's resolve_mx_hosts leaves it: the address, and the MX host name in from_dns.
    h.mxlist = [{ exchange: '127.0.0.1', port, priority: 10, from_dns: 'mx.dane.test', bind_helo: 'haraka.test' }]
    return h
}

function attempt(h) {
    return new Promise((resolve) => {
        h.temp_fail = (err) => resolve(err)
        h.bounce = (err) => resolve(`bounce: ${err}`)
        h.try_deliver()
    })
}

// setup gives h the plugin's DANE get_force_tls for mx.dane.test with records, and
// returns the plugin's log lines.
function setup(h, records) {
    const logs = []
    const log = (level, msg) => logs.push(`${level}: ${msg}`)
    const byName = new Map([['mx.dane.test', dane.tlsaHost({ name: 'mx.dane.test', tlsa_base: 'mx.dane.test', tlsa: records }, log)]])
    capability.force(h, dane.forceTLS(byName, new Set(), log))
    return logs
}

test.before(() => {
    obtls.load_config()
    obtls.cfg.ca = c.ca.pem // the trust store: the test CA (an operator uses NODE_EXTRA_CA_CERTS)
    assert.equal(dane.check((name) => require(`Haraka/${name}`)).dane, true)
    dane.hook(obtls)
})

for (const [name, records] of [
    ['DANE-EE SPKI SHA2-256 (3 1 1)', [certs.record(3, 1, 1, c.leaf)]],
    ['DANE-TA full certificate SHA2-512 (2 0 2)', [certs.record(2, 0, 2, c.ca)]],
]) {
    test(`${name} matches: Haraka sends MAIL FROM inside TLS`, async (t) => {
        const smtp = await starttlsServer({ key: c.leaf.key, cert: Buffer.concat([c.leaf.pem, c.ca.pem]) })
        t.after(smtp.close)
        const h = hmailFor(smtp.port, 'D1')
        const logs = setup(h, records)
        const gone = smtp.closed()
        const err = await attempt(h)
        await gone
        assert.equal(h.force_tls, true)
        assert.deepEqual(smtp.commands.slice(0, 4), ['EHLO', 'STARTTLS', 'tls:EHLO', 'tls:MAIL'])
        assert.equal(err, 'Upstream error: 421 closing') // our server's answer to MAIL FROM
        assert.equal(logs.length, 1, logs.join('\n'))
        assert.match(logs[0], /^notice: mx\.dane\.test: DANE verified: TLSA /)
    })
}

test('no TLSA record matches: the handshake is aborted, nothing is sent, Haraka defers', async (t) => {
    const smtp = await starttlsServer({ key: c.leaf.key, cert: Buffer.concat([c.leaf.pem, c.ca.pem]) })
    t.after(smtp.close)
    const h = hmailFor(smtp.port, 'D2')
    const logs = setup(h, [certs.record(3, 1, 1, c.self), certs.record(2, 1, 1, c.self)])
    const gone = smtp.closed()
    const err = await attempt(h)
    await gone
    assert.equal(err, 'Tried all MXs')
    assert.deepEqual(smtp.commands, ['EHLO', 'STARTTLS'])
    assert.match(logs.join('\n'), /^notice: mx\.dane\.test: DANE check failed, not delivering to this host: none of 2 usable TLSA record\(s\) matches/)
})

test('a matching TLSA record does not help a chain the trust store does not verify (the limit)', async (t) => {
    // The self-signed server certificate matches its 3 1 1 record, but Node runs the
    // check only after the chain verified: the handshake fails first, nothing is sent.
    const smtp = await starttlsServer({ key: c.self.key, cert: c.self.pem })
    t.after(smtp.close)
    const h = hmailFor(smtp.port, 'D3')
    const logs = setup(h, [certs.record(3, 1, 1, c.self)])
    const gone = smtp.closed()
    const err = await attempt(h)
    await gone
    assert.equal(err, 'Tried all MXs')
    assert.deepEqual(smtp.commands, ['EHLO', 'STARTTLS'])
    assert.deepEqual(logs, [], 'the DANE check never ran')
})
