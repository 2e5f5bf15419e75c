'use strict'
// Test certificates made by the openssl command for each run (Debian package openssl): a
// CA, a server certificate it signs, and a self-signed one; the TLSA association data is
// computed by openssl too, independently of lib/tlsa.js. peerChain gets Node's own view of
// a chain (getPeerCertificate(true)) from a TLS handshake on loopback.

const { execFileSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const tls = require('node:tls')

function openssl(dir, args, input) {
    try {
        return execFileSync('openssl', args, { cwd: dir, input, stdio: ['pipe', 'pipe', 'pipe'] })
    } catch (err) {
        throw new Error(`openssl ${args.join(' ')}: ${err.code === 'ENOENT' ? 'not installed (Debian package openssl)' : err.stderr || err.message}`)
    }
}

// make creates, in a new temporary directory: a CA (RSA), "leaf" (EC P-256, signed by the
// CA, for names) and "self" (EC P-256, self-signed, for selfName). For each certificate:
// pem, key, der and spki (DER SubjectPublicKeyInfo) as Buffers.
function make(names = ['mx.example.test'], selfName = 'self.example.test') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailtls-tlsa-'))
    const ext = (file, lines) => fs.writeFileSync(path.join(dir, file), `${lines.join('\n')}\n`)
    ext('leaf.ext', ['basicConstraints=CA:FALSE', 'keyUsage=digitalSignature', 'extendedKeyUsage=serverAuth', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`])
    openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=mailtls test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
    openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', `/CN=${names[0]}`])
    openssl(dir, ['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '2', '-days', '2', '-extfile', 'leaf.ext', '-out', 'leaf.pem'])
    openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'self.key', '-out', 'self.pem', '-days', '2', '-subj', `/CN=${selfName}`, '-addext', `subjectAltName=DNS:${selfName}`])
    const out = { dir }
    for (const name of ['ca', 'leaf', 'self']) {
        const pem = fs.readFileSync(path.join(dir, `${name}.pem`))
        const pub = openssl(dir, ['x509', '-in', `${name}.pem`, '-pubkey', '-noout'])
        out[name] = {
            pem,
            key: fs.readFileSync(path.join(dir, `${name}.key`)),
            der: openssl(dir, ['x509', '-in', `${name}.pem`, '-outform', 'DER']),
            spki: openssl(dir, ['pkey', '-pubin', '-outform', 'DER'], pub),
        }
    }
    return out
}

function remove(c) {
    fs.rmSync(c.dir, { recursive: true, force: true })
}

// record is the TLSA record of certificate c with the given parameters (RFC 6698 §2.1).
function record(usage, selector, matchingType, c) {
    const data = selector === 0 ? c.der : c.spki
    const hex =
        matchingType === 0
            ? data.toString('hex')
            : crypto
                  .createHash(matchingType === 1 ? 'sha256' : 'sha512')
                  .update(data)
                  .digest('hex')
    return { usage, selector, matching_type: matchingType, data: hex }
}

// peerChain returns Node's detailed peer certificate of a TLS server on loopback that
// presents cert (with chain appended), as a client trusting ca sees it.
async function peerChain({ key, cert, ca, servername }) {
    const server = tls.createServer({ key, cert })
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
        return await new Promise((resolve, reject) => {
            const s = tls.connect({ port: server.address().port, host: '127.0.0.1', ca, servername, checkServerIdentity: () => undefined }, () => {
                const peer = s.getPeerCertificate(true)
                s.destroy()
                resolve(peer)
            })
            s.on('error', reject)
        })
    } finally {
        server.close()
    }
}

module.exports = { make, remove, record, peerChain }
