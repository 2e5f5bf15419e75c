'use strict'
// The plugin's settings (config/mailtls.ini [main]) checked once: a bad setting is an
// error the plugin logs and answers with a deferral for every message, never a default.

const fs = require('node:fs')
const net = require('node:net')

const DEFAULTS = { url: 'http://127.0.0.1:8462', timeout: 5 }

function isLoopback(hostname) {
    const h = hostname.replace(/^\[|\]$/g, '')
    if (h === 'localhost') return true
    if (net.isIPv4(h)) return h.startsWith('127.')
    return h === '::1'
}

// parse returns {url, profile, token, timeout_ms, warnings} or throws an Error naming the
// bad setting. readFile is injectable for tests.
function parse(main = {}, readFile = fs.readFileSync) {
    const warnings = []
    const url = String(main.url ?? DEFAULTS.url).trim()
    let u
    try {
        u = new URL(url)
    } catch {
        throw new Error(`url=${url}: not a URL`)
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`url=${url}: not http or https`)
    if (u.search || u.hash || u.username || u.password) throw new Error(`url=${url}: query, fragment or credentials`)

    const timeout = main.timeout === undefined || main.timeout === '' ? DEFAULTS.timeout : Number(main.timeout)
    if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 120) {
        throw new Error(`timeout=${main.timeout}: seconds, more than 0 and at most 120`)
    }

    const profile = String(main.profile ?? '').trim()
    if (profile !== '' && !/^[A-Za-z0-9_.-]+$/.test(profile)) throw new Error(`profile=${profile}: not a profile name`)

    let token = String(main.token ?? '').trim()
    const tokenFile = String(main.token_file ?? '').trim()
    if (token !== '' && tokenFile !== '') throw new Error('token and token_file are both set')
    if (tokenFile !== '') {
        try {
            token = String(readFile(tokenFile, 'utf8')).trim()
        } catch (err) {
            throw new Error(`token_file=${tokenFile}: ${err.message}`)
        }
        if (token === '') throw new Error(`token_file=${tokenFile}: empty`)
    }
    if (/[\s]/.test(token)) throw new Error('token contains white space')
    if (token !== '' && u.protocol === 'http:' && !isLoopback(u.hostname)) {
        warnings.push(`the token is sent in clear text to ${u.host}: use https off loopback`)
    }
    return { url: u.href, profile, token, timeout_ms: Math.round(timeout * 1000), warnings }
}

module.exports = { parse, DEFAULTS }
