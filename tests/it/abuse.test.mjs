//  abuse - the gateway's abuse limits against real processes: per-connection
//  token buckets (messages, bytes, find_match) and the 1008 flood close,
//  connection caps (per gateway, per client address behind a trusted
//  proxy's X-Forwarded-For), the Origin check, the handshake timeout,
//  WebSocket ping/pong and the idle timeout, report and ban (Redis keys on
//  salted address hashes only, bans expire), and a client that stops
//  reading (bounded queue, disconnected, partner told, others unaffected,
//  gateway memory bounded).
//
//  Each limit runs on a gateway of its own configuration; every test
//  client that needs its own "address" sends X-Forwarded-For to a gateway
//  that trusts 127.0.0.1 as a proxy.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';

import WebSocket from 'ws';

import { startStack, guarded, waitFor } from '../lib/stack.mjs';
import { Client } from '../lib/client.mjs';

const SALT = 'integration-test-salt'; //  stack.mjs' MEGLE_IP_SALT
const BAN_S = 3;

let stack;
const test = (name, fn, timeout = 60000) =>
    it(name, { timeout }, guarded(() => stack, fn));

//  The salted hash the gateway puts in OPEN (common/id.c).
const ipHash = (ip) => createHmac('sha256', SALT).update(ip).digest('hex').slice(0, 32);

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

//  Connect to gateway id with extra headers (X-Forwarded-For, Origin, ...);
//  resolves to a Client after its welcome, or rejects with err.status =
//  the HTTP status the upgrade was refused with (0: closed without one).
async function connectTo(id, { headers = {}, origin, autoPong = true } = {}) {
    const ws = new WebSocket(stack.gw(id).wsUrl, {
        headers, origin, autoPong, perMessageDeflate: false, handshakeTimeout: 5000,
    });
    const c = new Client(ws);
    c.gateway = id;
    await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('unexpected-response', (req, res) => {
            const err = new Error(`upgrade refused: HTTP ${res.statusCode}`);
            err.status = res.statusCode;
            req.destroy();
            reject(err);
        });
        ws.once('error', (e) => {
            e.status = e.status ?? 0;
            reject(e);
        });
    });
    stack.clients.add(c);
    const w = await c.next('welcome');
    c.id = w.data.id;
    return c;
}

//  The HTTP status an upgrade gets (101 if it succeeds; then closed).
async function upgradeStatus(id, opts) {
    try {
        const c = await connectTo(id, opts);
        stack.clients.delete(c);
        await c.close();
        return 101;
    } catch (err) {
        return err.status ?? 0;
    }
}

const xff = (ip) => ({ 'X-Forwarded-For': ip });

//  Two fresh clients on gateway id, matched: x queues, y finds.
async function pairOn(id, xOpts = {}, yOpts = {}) {
    const x = await connectTo(id, xOpts);
    const y = await connectTo(id, yOpts);
    x.send('find_match');
    const w = await x.next(['waiting', 'match_found']);
    assert.equal(w.event, 'waiting', `${x.name()} was not alone in the queue: ${w.raw} ` +
                 JSON.stringify(await stack.queueKeys()));
    y.send('find_match');
    const my = await y.next('match_found');
    await x.next('match_found');
    assert.equal(my.data.partner_id, x.id);
    x.partner = y.id;
    y.partner = x.id;
    return { x, y };
}

//  The address hash of client c's session in Redis (once OPEN is in).
async function sessionIp(c) {
    const s = await waitFor(async () => {
        const h = await stack.redis.hgetall(`{megle}:s:${c.id}`);
        return h.ip !== undefined ? h : null;
    }, { what: `session ${c.id} in redis` });
    return s.ip;
}

function rssKiB(pid) {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
}

describe('abuse limits', () => {
    before(async () => {
        stack = await startStack({
            gateways: [],
            matcherEnv: {
                MEGLE_REPORT_THRESHOLD: '2',
                MEGLE_REPORT_WINDOW_S: '60',
                MEGLE_BAN_S: String(BAN_S),
            },
        });
        await stack.addGateway('gw-rate', {
            MEGLE_RATE_MSGS: '5', MEGLE_RATE_MSGS_BURST: '10',
            MEGLE_RATE_BYTES: '2000', MEGLE_RATE_BYTES_BURST: '4000',
            MEGLE_RATE_FINDS: '1', MEGLE_RATE_FINDS_BURST: '2',
        });
        await stack.addGateway('gw-caps', {
            MEGLE_MAX_CONNS: '4', MEGLE_MAX_CONNS_PER_IP: '2',
            MEGLE_TRUSTED_PROXIES: '10.255.0.0/16, 127.0.0.1, ::1',
        });
        await stack.addGateway('gw-origin', {
            MEGLE_ALLOWED_ORIGINS: 'https://megle.example, http://localhost:8080',
        });
        await stack.addGateway('gw-time', {
            MEGLE_HANDSHAKE_TIMEOUT_MS: '1000',
            MEGLE_PING_INTERVAL_S: '1', MEGLE_IDLE_TIMEOUT_S: '3',
        });
        await stack.addGateway('gw-ban', { MEGLE_TRUSTED_PROXIES: '127.0.0.1' });
        //  No rate limits: the slow-reader test floods through it. A small
        //  ASan quarantine, so that freed memory shows as freed in RSS.
        const asan = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=8']
            .filter(Boolean).join(':');
        await stack.addGateway('gw-slow', {
            MEGLE_RATE_MSGS: '0', MEGLE_RATE_BYTES: '0', ASAN_OPTIONS: asan,
        });
    });
    after(async () => {
        if (stack) await stack.stop();
    });

    test('1. messages over the rate: rate_limited once with retry_after, then dropped; the bucket refills', async () => {
        const c = await connectTo('gw-rate');
        //  Idle, each `typing` is answered not_matched: an echo per message
        //  that passes the bucket (burst 10).
        for (let i = 0; i < 13; i++) c.send('typing', { typing: true });
        for (let i = 0; i < 10; i++) await c.nextError('not_matched');
        const limited = await c.nextError('rate_limited');
        const retry = limited.data.retry_after;
        assert.ok(Number.isInteger(retry) && retry > 0 && retry <= 200, limited.raw);
        //  The refill time is the behaviour under test, not a sync point.
        await delay(retry + 50);
        c.send('leave');
        await c.nextError('not_matched');
        //  Messages 12 and 13 were dropped without another error.
        assert.deepEqual(c.pending().map((m) => m.raw), []);
        const m = await stack.gw('gw-rate').metrics();
        assert.ok(m['megle_gateway_rate_limited_total'] >= 3, JSON.stringify(m));
        assert.ok(m['megle_gateway_errors_total{code="rate_limited"}'] >= 1);
    });

    test('2. find_match has its own bucket', async () => {
        const c = await connectTo('gw-rate');
        c.send('find_match');
        await c.next('waiting');
        c.send('find_match');
        await c.next('waiting');
        c.send('find_match');
        const limited = await c.nextError('rate_limited');
        assert.ok(limited.data.retry_after > 0 && limited.data.retry_after <= 1000,
                  limited.raw);
        //  Other messages still pass meanwhile.
        c.send('typing', { typing: true });
        await c.nextError('not_matched');
        await delay(limited.data.retry_after + 50);
        c.send('find_match');
        await c.next('waiting');
    });

    test('3. bytes over the rate', async () => {
        const c = await connectTo('gw-rate');
        const big = JSON.stringify({ event: 'typing', data: { typing: true, pad: 'x'.repeat(2900) } });
        assert.ok(big.length > 2900 && big.length < 3000);
        c.sendRaw(big);
        await c.nextError('not_matched');
        c.sendRaw(big); //  1000 bytes left of 4000: refused
        const limited = await c.nextError('rate_limited');
        //  ~2000 bytes missing at 2000 bytes/s
        assert.ok(limited.data.retry_after > 500 && limited.data.retry_after <= 1100,
                  limited.raw);
    });

    test('4. a flood far past the limits is closed with 1008; the partner hears partner_left; others go on', async () => {
        const { x, y } = await pairOn('gw-rate');
        const other = await connectTo('gw-rate');
        for (let i = 0; i < 500; i++) x.send('typing', { typing: i % 2 === 0 });
        const info = await x.closed;
        assert.equal(info.code, 1008, JSON.stringify(info));
        const left = await y.next('partner_left');
        assert.equal(left.data.from, x.id);
        //  At most one rate_limited answer for the whole flood.
        assert.ok(x.events('error').filter((e) => e.data.code === 'rate_limited').length <= 1);
        other.send('leave');
        await other.nextError('not_matched');
        const m = await stack.gw('gw-rate').metrics();
        assert.ok(m.megle_gateway_flood_closes_total >= 1);
    });

    test('5. connection caps: per client address (X-Forwarded-For from a trusted proxy) and per gateway', async () => {
        const a1 = await connectTo('gw-caps', { headers: xff('10.0.0.1') });
        const a2 = await connectTo('gw-caps', { headers: xff('10.0.0.1') });
        //  A third from the same address: 429.
        assert.equal(await upgradeStatus('gw-caps', { headers: xff('10.0.0.1') }), 429);
        //  The right-most untrusted address counts: a claim to the left of
        //  it is ignored, trusted hops to the right of it are skipped.
        assert.equal(await upgradeStatus('gw-caps', { headers: xff('10.0.0.9, 10.0.0.1') }), 429);
        assert.equal(await upgradeStatus('gw-caps', { headers: xff('10.0.0.1, 10.255.3.4') }), 429);
        const b = await connectTo('gw-caps', { headers: xff('10.0.0.2') });
        const c = await connectTo('gw-caps', { headers: xff('2001:db8::3') });
        //  Four open: the gateway is full for everyone.
        assert.equal(await upgradeStatus('gw-caps', { headers: xff('10.0.0.4') }), 503);
        //  Redis holds the hash of the client's address, not the proxy's.
        assert.equal(await sessionIp(b), ipHash('10.0.0.2'));
        assert.equal(await sessionIp(c), ipHash('2001:db8::3'));
        //  A closed connection frees its place and its address's count.
        stack.clients.delete(a1);
        await a1.close();
        await waitFor(async () => (await stack.gw('gw-caps').metrics())
            .megle_gateway_connections === 3, { what: 'gw-caps at 3 connections' });
        const a3 = await connectTo('gw-caps', { headers: xff('10.0.0.1') });
        assert.equal(await upgradeStatus('gw-caps', { headers: xff('10.0.0.1') }), 503);
        const m = await stack.gw('gw-caps').metrics();
        assert.ok(m['megle_gateway_upgrades_refused_total{reason="max_conns_per_ip"}'] >= 3);
        assert.ok(m['megle_gateway_upgrades_refused_total{reason="max_conns"}'] >= 2);
        for (const k of [a2, a3, b, c]) assert.equal(k.closeInfo, null);
    });

    test('6. X-Forwarded-For is ignored unless the peer is a trusted proxy', async () => {
        //  gw-rate trusts no proxy: the socket's address is hashed.
        const c = await connectTo('gw-rate', { headers: xff('10.0.0.77') });
        assert.equal(await sessionIp(c), ipHash('127.0.0.1'));
    });

    test('7. Origin: same host by default, an allow-list when configured; no Origin is allowed', async () => {
        const caps = stack.gw('gw-caps');
        assert.equal(await upgradeStatus('gw-caps', { origin: caps.url }), 101);
        assert.equal(await upgradeStatus('gw-caps', {}), 101);
        assert.equal(await upgradeStatus('gw-caps', { origin: 'http://evil.example' }), 403);
        assert.equal(await upgradeStatus('gw-caps', { origin: `http://127.0.0.1:${caps.port + 1}` }), 403);
        assert.equal(await upgradeStatus('gw-caps', { origin: 'null' }), 403);
        const o = stack.gw('gw-origin');
        assert.equal(await upgradeStatus('gw-origin', { origin: 'https://megle.example' }), 101);
        assert.equal(await upgradeStatus('gw-origin', { origin: 'http://localhost:8080' }), 101);
        assert.equal(await upgradeStatus('gw-origin', { origin: o.url }), 403);
        assert.equal(await upgradeStatus('gw-origin', {}), 101);
        const m = await o.metrics();
        assert.ok(m['megle_gateway_upgrades_refused_total{reason="origin"}'] >= 1);
        //  The page itself is still served to anyone.
        assert.equal((await o.get('/')).status, 200);
    });

    test('8. handshake timeout: a silent or slow TCP connection is closed', async () => {
        const port = stack.gw('gw-time').port;
        const closedAfter = (payload) => new Promise((resolve, reject) => {
            const started = Date.now();
            const sock = net.connect(port, '127.0.0.1', () => {
                if (payload) sock.write(payload);
            });
            sock.on('data', () => {});
            sock.on('error', () => {});
            sock.on('close', () => resolve(Date.now() - started));
            setTimeout(() => {
                sock.destroy();
                reject(new Error('still open after 8 s'));
            }, 8000);
        });
        const [silent, partial] = await Promise.all([
            closedAfter(null),
            closedAfter('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n'),
        ]);
        for (const ms of [silent, partial]) {
            assert.ok(ms >= 900 && ms < 4000, `closed after ${ms} ms`);
        }
    });

    test('9. ping/pong: a quiet WebSocket is pinged and kept; one that never answers is closed', async () => {
        const quiet = await connectTo('gw-time');
        let pings = 0;
        quiet.ws.on('ping', () => pings++);
        const dead = await connectTo('gw-time', { autoPong: false });
        const info = await dead.closed;
        assert.notEqual(info.code, 1000);
        //  By then the quiet one has outlived the idle timeout (3 s) and the
        //  handshake timeout (1 s) on pongs alone.
        await waitFor(() => pings >= 3, { timeout: 8000, what: '3 pings' });
        assert.equal(quiet.closeInfo, null);
        quiet.send('leave');
        await quiet.nextError('not_matched');
    });

    test('10. report and ban: K distinct reporters ban the address hash; find_match says banned with retry_after; it expires', async () => {
        const VIP = '203.0.113.7';
        const vOpts = { headers: xff(VIP) };
        //  Not matched: nothing to report.
        const lone = await connectTo('gw-ban', { headers: xff('198.51.100.9') });
        lone.send('report', { reason: 'x' });
        await lone.nextError('not_matched');
        lone.send('report', { reason: 'x'.repeat(201) });
        await lone.nextError('too_long');
        lone.send('report', { reason: 42 });
        await lone.nextError('bad_field');

        const repKey = `{megle}:rep:${ipHash(VIP)}`;
        const banKey = `{megle}:ban:${ipHash(VIP)}`;
        for (const [i, rip] of ['198.51.100.1', '198.51.100.2'].entries()) {
            const { x: v, y: r } = await pairOn('gw-ban', vOpts, { headers: xff(rip) });
            r.send('report', { reason: 'spam' });
            if (i === 0) {
                await waitFor(async () => (await stack.redis.call('ZCARD', repKey)) === 1,
                              { what: 'first report recorded' });
                //  A report ends nothing: the pair still talks.
                r.send('chat', { text: 'still here' });
                assert.equal((await v.next('chat')).data.text, 'still here');
                //  The same reporter twice counts once.
                r.send('report', {});
            } else {
                await waitFor(async () => (await stack.redis.call('EXISTS', banKey)) === 1,
                              { what: 'ban key' });
            }
            r.send('leave');
            await v.next('partner_left');
            stack.clients.delete(v);
            await v.close();
        }
        const ttl = await stack.redis.call('TTL', banKey);
        assert.ok(ttl > 0 && ttl <= BAN_S, `ban TTL ${ttl}`);
        //  Any session from that address is refused by find_match.
        const v2 = await connectTo('gw-ban', vOpts);
        v2.send('find_match');
        const banned = await v2.nextError('banned');
        assert.ok(banned.data.retry_after > 0 && banned.data.retry_after <= BAN_S * 1000,
                  banned.raw);
        assert.equal(await stack.redis.call('SISMEMBER', '{megle}:q:video', v2.id), 0);
        //  Someone else is not.
        const other = await connectTo('gw-ban', { headers: xff('198.51.100.3') });
        other.send('find_match');
        await other.next('waiting');
        stack.clients.delete(other);
        await other.close();
        await waitFor(async () => (await stack.queueKeys()).length === 0,
                      { what: 'an empty queue' });
        //  No address anywhere in Redis: keys and values hold hashes only.
        for (const key of await stack.redis.scan('{megle}:*')) {
            const type = await stack.redis.call('TYPE', key);
            let text = key;
            if (type === 'hash') text += JSON.stringify(await stack.redis.call('HGETALL', key));
            else if (type === 'zset' || type === 'list') text += JSON.stringify(await stack.redis.call(type === 'zset' ? 'ZRANGE' : 'LRANGE', key, 0, -1));
            else if (type === 'set') text += JSON.stringify(await stack.redis.call('SMEMBERS', key));
            else if (type === 'string') text += await stack.redis.call('GET', key);
            for (const ip of [VIP, '198.51.100.1', '198.51.100.2', '198.51.100.3']) {
                assert.ok(!text.includes(ip), `${ip} found in ${key}`);
            }
        }
        //  The ban expires by TTL: then find_match works again.
        await waitFor(async () => (await stack.redis.call('EXISTS', banKey)) === 0,
                      { timeout: (BAN_S + 3) * 1000, what: 'ban expiry' });
        v2.send('find_match');
        await v2.next('waiting');
    }, 90000);

    test('11. a client that stops reading is cut off; its partner is told; others are unaffected; memory stays bounded', async () => {
        const gw = stack.gw('gw-slow');
        const { x: slow, y: flooder } = await pairOn('gw-slow');
        const { x: c, y: d } = await pairOn('gw-slow');
        const before = rssKiB(gw.proc.pid);
        slow.ws._socket.pause();
        const payload = JSON.stringify({ blob: 'y'.repeat(32 * 1024) });
        let sent = 0;
        const cut = () => flooder.log.some((m) => m.event === 'partner_left');
        await waitFor(async () => {
            if (cut()) return true;
            if (sent > 96 * 1024 * 1024) throw new Error(`still connected after ${sent} bytes`);
            //  Keep a few MB in flight, no more: this side reads.
            if (flooder.ws.bufferedAmount < 2 * 1024 * 1024) {
                for (let i = 0; i < 32; i++) {
                    flooder.signalRaw(slow.id, 'candidate', payload);
                    sent += payload.length;
                }
            }
            return false;
        }, { timeout: 60000, interval: 10, what: 'the slow reader cut off' });
        const left = await flooder.next('partner_left');
        assert.equal(left.data.from, slow.id);
        //  The other pair on the same gateway goes on.
        c.send('chat', { text: 'unaffected' });
        assert.equal((await d.next('chat')).data.text, 'unaffected');
        //  The gateway's memory did not grow with what was sent.
        const after = rssKiB(gw.proc.pid);
        const growthMiB = (after - before) / 1024;
        assert.ok(growthMiB < 48, `RSS grew ${growthMiB.toFixed(1)} MiB ` +
                  `(${before} -> ${after} KiB) for ${(sent / 1048576).toFixed(0)} MiB sent`);
        //  The slow one, once it reads again, finds itself disconnected.
        slow.ws._socket.resume();
        await waitFor(() => slow.closeInfo !== null, { timeout: 30000, what: 'slow client closed' });
        const m = await gw.metrics();
        assert.equal(m.megle_gateway_connections, 3);
    }, 120000);
});
