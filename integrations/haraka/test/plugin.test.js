'use strict'
// The plugin's get_mx hook as Haraka calls it (next, hmail, domain), against a fake
// mailtls API on loopback and a fake resolver; the capability check runs against the
// pinned Haraka itself.
const test = require('node:test')
const assert = require('node:assert/strict')
const dns = require('node:dns')
const constants = require('haraka-constants')

const pluginCode = require('../index')
const capability = require('../lib/capability')
const { apiServer, json, closedPort } = require('./helpers')

const harakaRequire = (name) => require(`Haraka/${name}`)

// plugin builds an object shaped like the Plugin Haraka gives a packaged plugin: the
// module's exports, config, log methods (recorded) and haraka_require.
function plugin(ini, resolver) {
    const p = Object.assign({}, pluginCode)
    p.logs = []
    for (const level of ['debug', 'info', 'notice', 'warn', 'error']) {
        p[`log${level}`] = (msg) => p.logs.push(`${level}: ${msg}`)
    }
    p.config = { get: (name) => (name === 'mailtls.ini' ? { main: ini } : {}) }
    p.haraka_require = harakaRequire
    p.register()
    if (resolver) p.resolver = resolver
    return p
}

function hmail(domain) {
    return { todo: { domain, uuid: 'U1' }, notes: {} }
}

function getMX(p, h, domain) {
    return new Promise((resolve) => p.hook_get_mx((code, msg) => resolve({ code, msg }), h, domain))
}

const stsPolicy = { domain: 'sts.test', id: 'p1', mode: 'enforce', max_age: 86400, mx: ['mx1.sts.test', '*.mail.sts.test'], lines: [] }
const base = { next_hop: 'sts.test', domain: 'sts.test', profile: 'haraka', reasons: [], cache_hit: true, postfix_reply: '' }
const answers = {
    notfound: { ...base, result: 'NOTFOUND', source: 'mta-sts' },
    temp: { ...base, result: 'TEMP', source: 'mta-sts', message: 'policy fetch failed' },
    perm: { ...base, result: 'PERM', source: 'input', message: 'bad next-hop' },
    sts: { ...base, result: 'OK', level: 'secure', source: 'mta-sts', match: ['mx1.sts.test', '.mail.sts.test'], servername: 'hostname', mta_sts: stsPolicy },
    daneOnly: { ...base, result: 'OK', level: 'dane-only', source: 'dane' },
    dane: { ...base, result: 'OK', level: 'dane', source: 'dane' },
    override: { ...base, result: 'OK', level: 'secure', source: 'override', match: ['.sts.test'] },
    may: { ...base, result: 'OK', level: 'may', source: 'default' },
}
const tlsa311 = { usage: 3, selector: 1, matching_type: 1, data: 'ab'.repeat(32) }
answers.daneHosts = {
    ...answers.daneOnly,
    dane: {
        mx_secure: true,
        no_mx: false,
        hosts: [
            { name: 'mx2.sts.test', preference: 20, tlsa_base: 'mx2.sts.test', state: 'dane', tlsa: [{ ...tlsa311, usage: 2 }] },
            { name: 'mx1.sts.test', preference: 10, tlsa_base: 'mx1.sts.test', state: 'dane', tlsa: [tlsa311] },
        ],
    },
}

const mxRecords = {
    resolveMx: async (domain) => {
        assert.equal(domain, 'sts.test')
        return [
            { exchange: 'evil.attacker.test', priority: 1 },
            { exchange: 'b.mail.sts.test', priority: 20 },
            { exchange: 'mx1.sts.test', priority: 10 },
            { exchange: 'x.b.mail.sts.test', priority: 5 },
        ]
    },
}

test('the start-up lines say what the pinned Haraka lets the plugin enforce', () => {
    const p = plugin({ url: 'http://127.0.0.1:1', profile: 'haraka' })
    assert.equal(p.capability.forceTLS, true, p.capability.why)
    assert.equal(p.capability.version, require('Haraka/package.json').version)
    assert.equal(p.capability.dane, true, p.capability.daneWhy)
    const notices = p.logs.filter((l) => l.startsWith('notice: '))
    assert.equal(notices.length, 4, notices.join('\n'))
    assert.match(notices[0], /asks http:\/\/127\.0\.0\.1:1\/v1\/policy\/\{domain\}\?profile=haraka \(timeout 5000 ms\)/)
    assert.match(notices[1], /^notice: Haraka 3\.3\.4: enforced per destination: .*STARTTLS required and the certificate verified against the MX host name/)
    assert.match(notices[2], /^notice: DANE \(dane, dane-only\): only the MX hosts mailtls validated, STARTTLS required and the certificate checked against their DNSSEC-validated TLSA records/)
    assert.match(notices[2], /limit: Node runs that check only after the chain verified against Haraka's trust store .* deferred, never sent unverified/)
    assert.match(notices[3], /not enforceable in Haraka 3\.3\.4 without a core change: DANE for servers whose chain the trust store does not verify \(deferred\)/)
})

test('each answer gives Haraka the right reply and forced TLS only where asked', async (t) => {
    const api = await apiServer(json(200, answers.notfound))
    t.after(api.close)
    const p = plugin({ url: api.url, profile: 'haraka', token: 'tok' }, mxRecords)
    const h = hmail('sts.test')

    // MTA-STS enforce: only the allowed MX hosts, in preference order, TLS forced.
    api.handler = json(200, answers.sts)
    let r = await getMX(p, h, 'sts.test')
    assert.equal(r.code, constants.ok)
    assert.deepEqual(r.msg, [
        { exchange: 'mx1.sts.test', priority: 10 },
        { exchange: 'b.mail.sts.test', priority: 20 },
    ])
    assert.equal(capability.isForced(h), true)
    assert.equal(h.get_force_tls({ exchange: '192.0.2.1' }), true)
    assert.deepEqual(h.notes.mailtls, { result: 'OK', level: 'secure', source: 'mta-sts', action: 'verified-tls' })
    assert.ok(p.logs.some((l) => l === 'notice: sts.test: MX hosts not allowed by the MTA-STS policy, never used: evil.attacker.test, x.b.mail.sts.test'), p.logs.join('\n'))
    assert.equal(api.requests.at(-1).url, '/v1/policy/sts.test?profile=haraka')
    assert.equal(api.requests.at(-1).authorization, 'Bearer tok')

    // The next attempt of the same message gets NOTFOUND: Haraka's own behaviour again.
    api.handler = json(200, answers.notfound)
    r = await getMX(p, h, 'sts.test')
    assert.equal(r.code, constants.cont)
    assert.equal(capability.isForced(h), false)
    assert.equal(Object.prototype.hasOwnProperty.call(h, 'get_force_tls'), false)

    // A secure override: TLS forced, Haraka's own MX lookup.
    api.handler = json(200, answers.override)
    r = await getMX(p, h, 'sts.test')
    assert.equal(r.code, constants.cont)
    assert.equal(capability.isForced(h), true)

    for (const [name, re] of [
        ['temp', /^mailtls: TEMP \(mta-sts\): policy fetch failed$/],
        ['perm', /^mailtls: PERM \(input\): bad next-hop$/],
        ['daneOnly', /^mailtls: OK dane-only \(dane\) without the DANE MX hosts and TLSA records/],
        ['dane', /^mailtls: OK dane \(dane\) without the DANE MX hosts and TLSA records/],
    ]) {
        api.handler = json(200, answers[name])
        r = await getMX(p, h, 'sts.test')
        assert.equal(r.code, constants.denysoft, name)
        assert.match(r.msg, re)
        assert.equal(capability.isForced(h), false, `${name} leaves no forced TLS behind`)
    }

    api.handler = json(200, answers.may)
    r = await getMX(p, h, 'sts.test')
    assert.equal(r.code, constants.cont)
    assert.equal(capability.isForced(h), false)
})

test('MTA-STS enforce: no matching MX host or a failed MX lookup defers', async (t) => {
    const api = await apiServer(json(200, answers.sts))
    t.after(api.close)
    const onlyEvil = { resolveMx: async () => [{ exchange: 'mx.evil.test', priority: 0 }] }
    const p = plugin({ url: api.url }, onlyEvil)
    const h = hmail('sts.test')
    let r = await getMX(p, h, 'sts.test')
    assert.equal(r.code, constants.denysoft)
    assert.match(r.msg, /no MX host of sts\.test matches its MTA-STS policy/)
    assert.equal(capability.isForced(h), false)

    p.resolver = {
        resolveMx: async () => {
            throw Object.assign(new Error('servfail'), { code: dns.SERVFAIL })
        },
    }
    r = await getMX(p, h, 'sts.test')
    assert.equal(r.code, constants.denysoft)
    assert.match(r.msg, /MX lookup for sts\.test failed: ESERVFAIL/)

    // No MX records: the domain itself is the host (RFC 5321 §5.1) and must match too.
    p.resolver = {
        resolveMx: async () => {
            throw Object.assign(new Error('nodata'), { code: dns.NODATA })
        },
    }
    r = await getMX(p, h, 'mx1.sts.test')
    assert.equal(r.code, constants.ok)
    assert.deepEqual(r.msg, [{ exchange: 'mx1.sts.test', priority: 0 }])
})

test('mailtls unreachable, slow, or answering errors: deferred, never delivered', async (t) => {
    const port = await closedPort()
    let p = plugin({ url: `http://127.0.0.1:${port}` }, mxRecords)
    const h = hmail('sts.test')
    capability.force(h) // left over from an earlier attempt: must not survive
    let r = await getMX(p, h, 'sts.test')
    assert.equal(r.code, constants.denysoft)
    assert.match(r.msg, /^mailtls unreachable or failed: cannot ask .*ECONNREFUSED/)
    assert.equal(capability.isForced(h), false)
    assert.ok(p.logs.some((l) => /^error: sts\.test: deferred: mailtls unreachable or failed/.test(l)))

    const api = await apiServer(() => {})
    t.after(api.close)
    p = plugin({ url: api.url, timeout: '0.2' }, mxRecords)
    r = await getMX(p, h, 'sts.test')
    assert.equal(r.code, constants.denysoft)
    assert.match(r.msg, /no answer from .* within 200 ms/)

    api.handler = json(401, { status: 401, error: 'missing or wrong bearer token' })
    r = await getMX(p, h, 'sts.test')
    assert.equal(r.code, constants.denysoft)
    assert.match(r.msg, /HTTP 401/)
})

test('a bad mailtls.ini defers every message', async () => {
    const p = plugin({ url: 'ftp://x/' })
    assert.ok(p.logs.some((l) => /^error: mailtls\.ini: url=ftp:\/\/x\/: not http or https; every message is deferred/.test(l)))
    const r = await getMX(p, hmail('sts.test'), 'sts.test')
    assert.equal(r.code, constants.denysoft)
    assert.match(r.msg, /mailtls\.ini: url=/)
})

test('an exception inside the plugin defers instead of letting Haraka deliver', async (t) => {
    const api = await apiServer(json(200, answers.sts))
    t.after(api.close)
    const p = plugin({ url: api.url }, mxRecords)
    p.require_verified_tls = async () => {
        throw new TypeError('bug')
    }
    const r = await getMX(p, hmail('sts.test'), 'sts.test')
    assert.equal(r.code, constants.denysoft)
    assert.match(r.msg, /mailtls plugin error: bug/)
})

test('without forced TLS in Haraka, answers that need it are deferred', async (t) => {
    const api = await apiServer(json(200, answers.override))
    t.after(api.close)
    const p = plugin({ url: api.url }, mxRecords)
    p.capability = capability.check((name) => (name === 'outbound/hmail' ? class {} : { version: '9.9.9' }))
    assert.equal(p.capability.forceTLS, false)
    const lines = p.startup_lines()
    assert.ok(lines.some((l) => /cannot force TLS per destination in this Haraka .*every encrypt\/verify\/secure answer is deferred/.test(l)), lines.join('\n'))
    const h = hmail('sts.test')
    for (const a of [answers.override, answers.sts]) {
        api.handler = json(200, a)
        const r = await getMX(p, h, 'sts.test')
        assert.equal(r.code, constants.denysoft)
        assert.match(r.msg, /this Haraka cannot force TLS per destination/)
        assert.equal(capability.isForced(h), false)
    }
    // Nor DANE, which needs forced TLS too.
    api.handler = json(200, answers.daneHosts)
    const r = await getMX(p, h, 'sts.test')
    assert.equal(r.code, constants.denysoft)
    assert.match(r.msg, /this Haraka cannot check TLSA records/)
    assert.equal(capability.isForced(h), false)
})

test('DANE: mailtls\'s hosts, TLS forced and each host marked for its TLSA check; nothing usable defers', async (t) => {
    const api = await apiServer(json(200, answers.daneHosts))
    t.after(api.close)
    // The MX set is mailtls's (DNSSEC-validated), never the resolver's.
    const p = plugin({ url: api.url }, { resolveMx: async () => assert.fail('no MX lookup for DANE') })
    const h = hmail('sts.test')
    let r = await getMX(p, h, 'sts.test')
    assert.equal(r.code, constants.ok)
    assert.deepEqual(r.msg, [
        { exchange: 'mx1.sts.test', priority: 10 },
        { exchange: 'mx2.sts.test', priority: 20 },
    ])
    assert.equal(capability.isForced(h), true)
    assert.deepEqual(h.notes.mailtls, { result: 'OK', level: 'dane-only', source: 'dane', action: 'dane' })
    assert.ok(p.logs.includes('notice: sts.test: OK dane-only (dane): TLSA records of 2 MX host(s) from mailtls (DNSSEC-validated): delivering to mx1.sts.test (10, DANE, 1 TLSA), mx2.sts.test (20, DANE, 1 TLSA)'), p.logs.join('\n'))

    // Haraka asks get_force_tls for each resolved MX (exchange an address, from_dns the name).
    const obtls = require('Haraka/outbound/tls')
    const mx1 = { exchange: '192.0.2.1', from_dns: 'MX1.sts.test.', port: 25 }
    assert.equal(h.get_force_tls(mx1), true)
    const opts = obtls.get_tls_options(mx1)
    assert.equal(opts.servername, 'MX1.sts.test.')
    assert.equal(typeof opts.checkServerIdentity, 'function')
    // Not a certificate of this host: the check returns an Error (Node aborts the handshake).
    const err = opts.checkServerIdentity('mx1.sts.test', { raw: Buffer.from('30020500', 'hex') })
    assert.ok(err instanceof Error && /mailtls DANE: mx1\.sts\.test: /.test(err.message), String(err))
    assert.ok(p.logs.some((l) => /^notice: sts\.test: mx1\.sts\.test: DANE check failed, not delivering to this host: /.test(l)), p.logs.join('\n'))
    // A host mailtls did not name is forced and always refused (fail closed).
    const stranger = { exchange: '192.0.2.9', from_dns: 'mx.elsewhere.test' }
    assert.equal(h.get_force_tls(stranger), true)
    assert.ok(obtls.get_tls_options(stranger).checkServerIdentity('mx.elsewhere.test', {}) instanceof Error)
    // Any other delivery's options are Haraka's own.
    assert.equal(obtls.get_tls_options({ exchange: 'mx1.sts.test' }).checkServerIdentity, undefined)

    // "dane": hosts without TLSA get Haraka's own rule; failed and unusable hosts are left out.
    api.handler = json(200, {
        ...answers.dane,
        dane: {
            mx_secure: true,
            no_mx: false,
            hosts: [
                { name: 'a.sts.test', preference: 5, state: 'failed' },
                { name: 'b.sts.test', preference: 5, state: 'dane-unusable' },
                { name: 'c.sts.test', preference: 5, state: 'dane', tlsa: [{ ...tlsa311, usage: 1 }] },
                { name: 'd.sts.test', preference: 30, state: 'no-tlsa' },
                { name: 'e.sts.test', preference: 10, state: 'dane', tlsa: [tlsa311] },
            ],
        },
    })
    r = await getMX(p, h, 'sts.test')
    assert.equal(r.code, constants.ok)
    assert.deepEqual(r.msg, [
        { exchange: 'e.sts.test', priority: 10 },
        { exchange: 'd.sts.test', priority: 30 },
    ])
    assert.ok(p.logs.includes('notice: sts.test: DANE MX hosts not used: a.sts.test (failed), b.sts.test (dane-unusable), c.sts.test (no usable TLSA record)'), p.logs.join('\n'))
    const d = { exchange: '192.0.2.4', from_dns: 'd.sts.test' }
    h.todo.domain = 'sts.test'
    Object.setPrototypeOf(h, require('Haraka/outbound/hmail').prototype)
    require('Haraka/outbound/tls').load_config()
    assert.equal(h.get_force_tls(d), false) // Haraka's own rule (force_tls_hosts is empty)
    assert.equal(obtls.get_tls_options(d).checkServerIdentity, undefined)
    assert.equal(h.get_force_tls({ exchange: '192.0.2.5', from_dns: 'e.sts.test' }), true)

    // dane-only whose hosts have no usable record: deferred, nothing forced.
    for (const hosts of [[], [{ name: 'b.sts.test', preference: 5, state: 'dane-unusable' }], [{ name: 'd.sts.test', preference: 5, state: 'no-tlsa' }]]) {
        api.handler = json(200, { ...answers.daneOnly, dane: { mx_secure: true, no_mx: false, hosts } })
        r = await getMX(p, h, 'sts.test')
        assert.equal(r.code, constants.denysoft, JSON.stringify(hosts))
        assert.match(r.msg, /^mailtls: no usable DANE MX host for sts\.test$/)
        assert.equal(capability.isForced(h), false)
    }
})
