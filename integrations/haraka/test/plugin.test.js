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
    const notices = p.logs.filter((l) => l.startsWith('notice: '))
    assert.equal(notices.length, 3, notices.join('\n'))
    assert.match(notices[0], /asks http:\/\/127\.0\.0\.1:1\/v1\/policy\/\{domain\}\?profile=haraka \(timeout 5000 ms\)/)
    assert.match(notices[1], /^notice: Haraka 3\.3\.4: enforced per destination: .*STARTTLS required and the certificate verified against the MX host name/)
    assert.match(notices[2], /not enforceable in Haraka 3\.3\.4 without a core change: DANE \(dane and dane-only answers are deferred\)/)
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
        ['daneOnly', /^mailtls: OK dane-only \(dane\): Haraka cannot verify DANE/],
        ['dane', /^mailtls: OK dane \(dane\): Haraka cannot verify DANE/],
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
})
