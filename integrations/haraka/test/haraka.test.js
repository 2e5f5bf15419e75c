'use strict'
// The pinned Haraka's own outbound code with the plugin's per-message forced TLS: a real
// HMailItem delivers to an SMTP server on loopback that offers no STARTTLS. Forced, Haraka
// must give up before MAIL FROM; not forced, it sends MAIL FROM in plaintext (the
// opportunistic behaviour the plugin leaves alone for NOTFOUND).
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

// Haraka's modules read their configuration from $HARAKA/config: an empty one here.
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'mailtls-haraka-'))
fs.mkdirSync(path.join(home, 'config'))
process.env.HARAKA = home
process.on('exit', () => fs.rmSync(home, { recursive: true, force: true }))

const { Address } = require('@haraka/email-address')
const Notes = require('haraka-notes')
const HMailItem = require('Haraka/outbound/hmail')
const qfile = require('Haraka/outbound/qfile')
const capability = require('../lib/capability')

// smtpServer accepts connections and answers like an MTA without STARTTLS, recording the
// commands it receives; MAIL FROM is refused with 421 so that nothing is ever "sent".
async function smtpServer() {
    const commands = []
    const closed = []
    const server = net.createServer((sock) => {
        sock.on('close', () => closed.shift()?.())
        sock.write('220 fake.test ESMTP\r\n')
        let buf = ''
        sock.on('data', (d) => {
            buf += d
            let i
            while ((i = buf.indexOf('\r\n')) >= 0) {
                const line = buf.slice(0, i)
                buf = buf.slice(i + 2)
                commands.push(line.split(' ')[0].toUpperCase())
                if (/^EHLO/i.test(line)) sock.write('250-fake.test\r\n250 8BITMIME\r\n')
                else if (/^MAIL/i.test(line)) sock.end('421 closing\r\n')
                else if (/^QUIT/i.test(line)) sock.end('221 bye\r\n')
                else sock.write('502 no\r\n')
            }
        })
        sock.on('error', () => {})
    })
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    // connectionClosed resolves when the next connection to end is gone.
    const connectionClosed = () => new Promise((resolve) => closed.push(resolve))
    return { port: server.address().port, commands, connectionClosed, close: () => new Promise((r) => server.close(r)) }
}

// hmail.js finishes loading its queue module on the next turn of the event loop.
test.before(() => new Promise((resolve) => setImmediate(resolve)))

function hmailFor(port) {
    const name = qfile.name({})
    const h = new HMailItem(name, path.join(home, 'no-such-queue-file'))
    h.todo = {
        domain: 'enforce.example',
        mail_from: new Address('<sender@example.org>'),
        rcpt_to: [new Address('<rcpt@enforce.example>')],
        notes: new Notes(),
        queue_time: Date.now(),
        uuid: 'T1',
    }
    h.mxlist = [{ exchange: '127.0.0.1', port, priority: 0, bind_helo: 'haraka.test' }]
    return h
}

function attempt(h) {
    return new Promise((resolve) => {
        h.temp_fail = (err) => resolve(err)
        h.bounce = (err) => resolve(`bounce: ${err}`)
        h.try_deliver()
    })
}

test('forced per message, Haraka refuses a server without STARTTLS before MAIL FROM', async (t) => {
    HMailItem.obtls.load_config()
    const smtp = await smtpServer()
    t.after(smtp.close)

    const forced = hmailFor(smtp.port)
    capability.force(forced)
    const gone = smtp.connectionClosed()
    const err = await attempt(forced)
    await gone
    assert.equal(err, 'No TLS available but required by configuration.')
    assert.equal(forced.force_tls, true)
    assert.deepEqual(smtp.commands, ['EHLO', 'QUIT'])

    // The same Haraka, another message without the plugin's override: plaintext MAIL FROM.
    smtp.commands.length = 0
    const plain = hmailFor(smtp.port)
    const err2 = await attempt(plain)
    assert.equal(plain.force_tls, false)
    assert.deepEqual(smtp.commands.slice(0, 2), ['EHLO', 'MAIL'])
    assert.equal(err2, 'Upstream error: 421 closing') // our server's answer to MAIL FROM

    // unforce restores Haraka's own rule on the forced message.
    capability.unforce(forced)
    assert.equal(forced.get_force_tls, HMailItem.prototype.get_force_tls)
})

test("Haraka's documented todo.force_tls is not read by this version's outbound code", async (t) => {
    // docs/Outbound.md lists todo.force_tls ("defer instead of delivering in plaintext");
    // 3.3.4's HMailItem#get_force_tls never reads it, which is why the plugin cannot use it.
    const smtp = await smtpServer()
    t.after(smtp.close)
    const h = hmailFor(smtp.port)
    h.todo.force_tls = true
    await attempt(h)
    assert.equal(h.force_tls, false)
    assert.ok(smtp.commands.includes('MAIL'), smtp.commands.join(' '))
})

test('capability check finds the mechanism in the pinned Haraka', () => {
    const c = capability.check((name) => require(`Haraka/${name}`))
    assert.deepEqual(c, { forceTLS: true, version: '3.3.4', why: 'HMailItem#try_deliver calls this.get_force_tls()' })
})
