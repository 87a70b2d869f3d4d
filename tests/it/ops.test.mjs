//  ops - what an operator sees, against the real processes: /metrics of
//  both gateways and the matcher parsed by the reference Prometheus text
//  parser (python3-prometheus-client, through tests/it/promparse.py) and
//  checked against the traffic this test generates; the TURN credentials
//  in welcome recomputed with node's own HMAC; the matcher's /readyz
//  following Redis down and up; a gateway's /readyz failing as soon as
//  SIGTERM starts its drain, while a client is still connected.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startStack, guarded, waitFor, freePort } from '../lib/stack.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
//  Debian's python3 has python3-prometheus-client; a python3 earlier on
//  PATH (pyenv, a venv) may not.
const PYTHON = ['/usr/bin/python3'].find((p) => existsSync(p)) || 'python3';

const TURN_SECRET = `ops-test-${randomBytes(8).toString('hex')}`;
const TURN_TTL = 3600;
const STUN_URLS = 'stun:stun.example.org:3478';
const TURN_URLS = 'turn:turn.example.org:3478?transport=udp,' +
                  'turns:turn.example.org:5349?transport=tcp';

let stack;
let matcherPort;
const test = (name, fn, timeout = 60000) =>
    it(name, { timeout }, guarded(() => stack, fn));

function get(port, urlPath, timeout = 2000) {
    return new Promise((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: urlPath,
                               timeout, agent: false }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({
                status: res.statusCode,
                type: res.headers['content-type'],
                body: Buffer.concat(chunks).toString('utf8'),
            }));
            res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error('http timeout')));
        req.on('error', reject);
    });
}

//  /metrics of the process on port, parsed by the reference parser:
//  { families: Map name -> family, value(sample name, labels) }.
async function scrape(port) {
    const res = await get(port, '/metrics');
    assert.equal(res.status, 200, `/metrics on ${port}: ${res.status}`);
    assert.match(res.type, /^text\/plain; version=0\.0\.4/);
    let parsed;
    try {
        parsed = JSON.parse(execFileSync(PYTHON, [path.join(HERE, 'promparse.py')],
                                         { input: res.body, encoding: 'utf8' }));
    } catch (err) {
        throw new Error(`the Prometheus parser refused /metrics on ${port}: ` +
                        `${err.stderr || err.message}\n${res.body}`);
    }
    const families = new Map(parsed.families.map((f) => [f.name, f]));
    const value = (name, labels = {}) => {
        for (const f of parsed.families) {
            for (const s of f.samples) {
                if (s.name !== name) continue;
                const keys = Object.keys(labels);
                if (keys.length !== Object.keys(s.labels).length) continue;
                if (keys.every((k) => s.labels[k] === labels[k])) return s.value;
            }
        }
        throw new Error(`no sample ${name}${JSON.stringify(labels)} on ${port}`);
    };
    return { families, value, text: res.body };
}

const gwPort = (id) => stack.gw(id).port;

//  Each family follows the conventions: megle_ prefix, counters end in
//  _total, histograms are cumulative and end at +Inf = _count.
function checkConventions(m, prefix) {
    for (const f of m.families.values()) {
        assert.ok(f.name.startsWith(prefix), `${f.name}: prefix ${prefix}`);
        assert.ok(f.help.length > 0, `${f.name}: HELP`);
        if (f.type === 'counter') {
            for (const s of f.samples) {
                assert.ok(s.name.endsWith('_total') || s.name.endsWith('_created'),
                          `${s.name}: counters end in _total`);
            }
        }
        if (f.type === 'histogram') {
            const buckets = f.samples.filter((s) => s.name.endsWith('_bucket'));
            let last = 0;
            for (const b of buckets) {
                assert.ok(b.value >= last, `${f.name}: buckets are cumulative`);
                last = b.value;
            }
            assert.equal(buckets.at(-1).labels.le, '+Inf');
            const count = f.samples.find((s) => s.name === `${f.name}_count`);
            assert.equal(buckets.at(-1).value, count.value, `${f.name}: +Inf = count`);
            assert.ok(f.name.endsWith('_seconds'), `${f.name}: base unit seconds`);
        }
        for (const s of f.samples) {
            for (const v of Object.values(s.labels)) {
                assert.doesNotMatch(v, /^[0-9a-f]{32}$/, `${s.name}: no per-user labels`);
            }
        }
    }
}

//  A WebSocket client on raw TCP: it completes the upgrade, can send a
//  text message, and stops reading when told to (a slow reader), so that
//  what the gateway writes to it piles up in the gateway.
function rawClient(port) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        const c = { sock, data: Buffer.alloc(0), closed: false };
        c.done = new Promise((r) => sock.on('close', () => {
            c.closed = true;
            r();
        }));
        c.send = (text) => {
            //  a masked text frame (clients must mask)
            const body = Buffer.from(text);
            const mask = randomBytes(4);
            const head = body.length < 126
                ? Buffer.from([0x81, 0x80 | body.length])
                : Buffer.from([0x81, 0x80 | 126, body.length >> 8, body.length & 0xff]);
            const masked = Buffer.from(body.map((b, i) => b ^ mask[i % 4]));
            sock.write(Buffer.concat([head, mask, masked]));
        };
        sock.on('error', () => {});
        sock.on('data', (chunk) => {
            c.data = Buffer.concat([c.data, chunk]);
            if (c.data.includes('\r\n\r\n') && !c.upgraded) {
                c.upgraded = true;
                if (!c.data.toString('latin1').startsWith('HTTP/1.1 101')) {
                    reject(new Error(`upgrade refused: ${c.data.toString('latin1', 0, 80)}`));
                } else resolve(c);
            }
        });
        sock.once('connect', () => sock.write(
            `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
            'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
            'Sec-WebSocket-Version: 13\r\n\r\n'));
        sock.once('error', reject);
    });
}

//  How many bytes the kernel takes on a loopback connection whose reader
//  does not read (socket buffers, after autotuning): measured, not
//  guessed, because it depends on the machine's tcp_wmem / tcp_rmem.
function kernelBuffering() {
    return new Promise((resolve) => {
        const chunk = Buffer.alloc(65536);
        let reader;
        const srv = net.createServer((s) => {
            let last = -1;
            const pump = () => {
                while (s.write(chunk)) { /* fill */ }
            };
            s.on('drain', pump);
            s.on('error', () => {});
            pump();
            const check = setInterval(() => {
                if (s.bytesWritten === last) {
                    clearInterval(check);
                    const n = s.bytesWritten;
                    s.destroy();
                    reader.destroy();
                    srv.close();
                    resolve(n);
                }
                last = s.bytesWritten;
            }, 200);
        });
        srv.listen(0, '127.0.0.1', () => {
            reader = net.connect(srv.address().port, '127.0.0.1');
            reader.on('error', () => {});
            reader.pause();
        });
    });
}

//  The status code of the first close frame (opcode 8) in the bytes the
//  server sent after its 101 answer, or null.
function closeCode(data) {
    let i = data.indexOf('\r\n\r\n') + 4;
    while (i > 3 && i + 2 <= data.length) {
        const opcode = data[i] & 0x0f;
        let len = data[i + 1] & 0x7f;
        let at = i + 2;
        if (len === 126) {
            len = data.readUInt16BE(at);
            at += 2;
        } else if (len === 127) return null;
        if (at + len > data.length) return null;
        if (opcode === 8) return len >= 2 ? data.readUInt16BE(at) : null;
        i = at + len;
    }
    return null;
}

describe('ops: metrics, health, TURN, drain', () => {
    before(async () => {
        matcherPort = await freePort();
        stack = await startStack({
            gateways: ['gw-a', 'gw-b'],
            matcherEnv: { MEGLE_MATCHER_HTTP: `127.0.0.1:${matcherPort}` },
            gatewayEnv: {
                MEGLE_STUN_URLS: STUN_URLS,
                MEGLE_TURN_URLS: TURN_URLS,
                MEGLE_TURN_SECRET: TURN_SECRET,
                MEGLE_TURN_TTL: String(TURN_TTL),
            },
        });
        await waitFor(async () => (await get(matcherPort, '/readyz')).status === 200,
                      { timeout: 10000, what: 'matcher /readyz 200' });
    });

    after(async () => {
        if (stack) await stack.stop();
    });

    test('1. welcome carries ice_servers; the TURN credential verifies', async () => {
        const c = await stack.client('gw-a');
        const welcome = c.log.find((m) => m.event === 'welcome');
        const now = Math.floor(Date.now() / 1000);
        const ice = welcome.data.ice_servers;
        assert.ok(Array.isArray(ice) && ice.length === 2, welcome.raw);
        assert.deepEqual(ice[0], { urls: [STUN_URLS] });
        assert.deepEqual(ice[1].urls, TURN_URLS.split(','));
        const { username, credential } = ice[1];
        const [expiry, id] = username.split(':');
        assert.equal(id, c.id, 'username = "<expiry>:<session id>"');
        assert.ok(Math.abs(Number(expiry) - (now + TURN_TTL)) <= 5,
                  `expiry ${expiry} is about now + ${TURN_TTL} (${now + TURN_TTL})`);
        //  coturn's REST-API check: base64 (HMAC-SHA1 (secret, username))
        assert.equal(credential,
                     createHmac('sha1', TURN_SECRET).update(username).digest('base64'));
        assert.ok(!welcome.raw.includes(TURN_SECRET), 'the secret stays server-side');
        //  each session its own username
        const d = await stack.client('gw-b');
        const other = d.log.find((m) => m.event === 'welcome').data.ice_servers[1];
        assert.notEqual(other.username, username);
        assert.equal(other.credential,
                     createHmac('sha1', TURN_SECRET).update(other.username).digest('base64'));
    });

    test('2. /metrics of both gateways and the matcher count the traffic', async () => {
        const before = {
            a: await scrape(gwPort('gw-a')),
            b: await scrape(gwPort('gw-b')),
            m: await scrape(matcherPort),
        };
        //  Traffic: PAIRS pairs (x on gw-a, y on gw-b: one find_match each),
        //  X_SIGNALS signals x -> y and Y_SIGNALS y -> x per pair, one
        //  signal to a stranger (not_partner), one invalid message
        //  (bad_json), one session queued alone (queue depth 1).
        const PAIRS = 3, X_SIGNALS = 2, Y_SIGNALS = 1;
        const pairs = [];
        for (let i = 0; i < PAIRS; i++) pairs.push(await stack.pair('gw-a', 'gw-b'));
        for (const { x, y } of pairs) {
            for (let k = 0; k < X_SIGNALS; k++) x.signal(y.id, 'candidate', { k });
            for (let k = 0; k < Y_SIGNALS; k++) y.signal(x.id, 'candidate', { k });
        }
        for (const { x, y } of pairs) {
            for (let k = 0; k < X_SIGNALS; k++) await y.next('signal');
            for (let k = 0; k < Y_SIGNALS; k++) await x.next('signal');
        }
        const { x } = pairs[0];
        x.signal(randomBytes(16).toString('hex'), 'offer', { sdp: 'v=0' });
        await x.nextError('not_partner');
        x.sendRaw('{not json');
        await x.nextError('bad_json');
        const w = await stack.client('gw-a');
        w.send('find_match');
        await w.next('waiting');
        const depth = await waitFor(async () => {
            const m = await scrape(matcherPort);
            return m.value('megle_matcher_queue_depth', { mode: 'video' }) === 1 && m;
        }, { timeout: 5000, what: 'matcher queue_depth{mode="video"} = 1' });
        assert.equal(depth.value('megle_matcher_queue_depth', { mode: 'text' }), 0);

        const after = {
            a: await scrape(gwPort('gw-a')),
            b: await scrape(gwPort('gw-b')),
            m: await scrape(matcherPort),
        };
        const delta = (k, name, labels) =>
            after[k].value(name, labels) - before[k].value(name, labels);
        const finds = { a: PAIRS + 1, b: PAIRS };
        const sent = { a: PAIRS * X_SIGNALS + 1, b: PAIRS * Y_SIGNALS };
        const relayed = { a: PAIRS * Y_SIGNALS, b: PAIRS * X_SIGNALS };
        for (const k of ['a', 'b']) {
            const g = `gw-${k}`;
            assert.equal(delta(k, 'megle_gateway_messages_in_total', { event: 'find_match' }),
                         finds[k], `${g} find_match in`);
            assert.equal(delta(k, 'megle_gateway_messages_in_total', { event: 'signal' }),
                         sent[k], `${g} signals in`);
            assert.equal(delta(k, 'megle_gateway_messages_out_total', { event: 'signal' }),
                         relayed[k], `${g} signals out`);
            assert.equal(delta(k, 'megle_gateway_messages_out_total', { event: 'match_found' }),
                         PAIRS, `${g} match_found out`);
            assert.equal(delta(k, 'megle_gateway_time_to_match_seconds_count'), PAIRS,
                         `${g} time_to_match observations`);
            assert.equal(delta(k, 'megle_gateway_signal_relay_seconds_count'), relayed[k],
                         `${g} signal_relay observations`);
            assert.ok(after[k].value('megle_gateway_signal_relay_seconds_sum') < 5 * relayed[k] + 1,
                      `${g} relay latencies are plausible`);
            assert.equal(after[k].value('megle_gateway_draining'), 0);
            assert.equal(after[k].value('megle_gateway_matcher_up'), 1);
            checkConventions(after[k], 'megle_gateway_');
        }
        assert.equal(delta('a', 'megle_gateway_messages_in_total', { event: 'invalid' }), 1);
        assert.equal(delta('a', 'megle_gateway_errors_total', { code: 'bad_json' }), 1);
        assert.equal(delta('a', 'megle_gateway_errors_total', { code: 'not_partner' }), 1);
        assert.equal(delta('b', 'megle_gateway_errors_total', { code: 'not_partner' }), 0);
        assert.equal(after.a.value('megle_gateway_connections'), PAIRS + 1,
                     'gw-a connections: the x of each pair, and w');

        //  The matcher saw the same.
        const m = 'm';
        assert.equal(delta(m, 'megle_matcher_frames_in_total', { kind: 'find' }),
                     finds.a + finds.b);
        assert.equal(delta(m, 'megle_matcher_frames_in_total', { kind: 'signal' }),
                     sent.a + sent.b);
        assert.equal(delta(m, 'megle_matcher_frames_out_total', { kind: 'deliver' }),
                     relayed.a + relayed.b);
        assert.equal(delta(m, 'megle_matcher_frames_out_total', { kind: 'matched' }), 2 * PAIRS);
        assert.equal(delta(m, 'megle_matcher_frames_out_total', { kind: 'error' }), 1);
        assert.equal(delta(m, 'megle_matcher_matches_total'), PAIRS);
        assert.equal(delta(m, 'megle_matcher_bad_frames_total'), 0);
        assert.equal(delta(m, 'megle_matcher_redis_errors_total'), 0);
        //  at least one Redis call per frame that needs a script
        assert.ok(delta(m, 'megle_matcher_redis_latency_seconds_count') >=
                  finds.a + finds.b + sent.a + sent.b);
        assert.equal(after.m.value('megle_matcher_redis_up'), 1);
        assert.equal(after.m.value('megle_matcher_gateways_alive'), 2);
        checkConventions(after.m, 'megle_matcher_');

        //  The queue empties when the lone session goes.
        await w.close();
        await waitFor(async () =>
            (await scrape(matcherPort)).value('megle_matcher_queue_depth', { mode: 'video' }) === 0,
        { timeout: 5000, what: 'queue depth back to 0' });
    });

    test('3. matcher /healthz, /readyz follow Redis down and up', async () => {
        assert.equal((await get(matcherPort, '/healthz')).status, 200);
        assert.equal((await get(matcherPort, '/readyz')).status, 200);
        assert.equal((await get(matcherPort, '/nope')).status, 404);
        const errors = (await scrape(matcherPort)).value('megle_matcher_redis_errors_total');

        stack.redisProc.signal('SIGKILL');
        await stack.redisProc.done;
        await waitFor(async () => (await get(matcherPort, '/readyz')).status === 503,
                      { timeout: 5000, what: 'matcher /readyz 503 without Redis' });
        const down = await scrape(matcherPort);
        assert.equal(down.value('megle_matcher_redis_up'), 0);
        assert.ok(down.value('megle_matcher_redis_errors_total') > errors,
                  'the lost connection counts as a Redis error');
        //  alive all the same
        assert.equal((await get(matcherPort, '/healthz')).status, 200);

        await stack.startRedis(stack.redisPort);
        await waitFor(async () => (await get(matcherPort, '/readyz')).status === 200,
                      { timeout: 15000, what: 'matcher /readyz 200 once Redis is back' });
        assert.equal((await scrape(matcherPort)).value('megle_matcher_redis_up'), 1);
        //  and it matches again
        await stack.waitReady(stack.gw('gw-a'));
        await stack.waitReady(stack.gw('gw-b'));
        await waitFor(async () => {
            const c = await stack.client('gw-a');
            c.send('find_match');
            const m = await c.next(['waiting', 'error']);
            await c.close();
            return m.event === 'waiting';
        }, { timeout: 10000, what: 'find_match works again' });
    });

    test('4. the matcher refuses bad HTTP and stays up', async () => {
        const send = (bytes) => new Promise((resolve) => {
            const sock = net.connect(matcherPort, '127.0.0.1');
            let data = '';
            sock.on('data', (c) => { data += c.toString('latin1'); });
            sock.on('close', () => resolve(data));
            sock.on('error', () => resolve(data));
            sock.write(bytes);
        });
        assert.match(await send('GET /readyz HTTP/1.1\nHost: x\n\n'), /^HTTP\/1\.1 400 /);
        assert.match(await send(`GET /x HTTP/1.1\r\nX: ${'v'.repeat(5000)}\r\n\r\n`),
                     /^HTTP\/1\.1 431 /);
        assert.match(await send('POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n'),
                     /^HTTP\/1\.1 405 /);
        const head = await send('HEAD /healthz HTTP/1.0\r\n\r\n');
        assert.match(head, /^HTTP\/1\.1 200 /);
        assert.ok(head.endsWith('\r\n\r\n'), 'HEAD: no body');
        assert.equal((await get(matcherPort, '/healthz')).status, 200);
    });

    test('5. gateway /readyz turns 503 at SIGTERM, before it exits, client connected', async () => {
        //  A gateway drains by flushing each client's queue, then closing
        //  it with 1001. Its client here reads nothing for a while, with
        //  more queued for it than the socket buffers hold, so the drain
        //  lasts until it reads again: meanwhile /readyz must say 503.
        const g = await stack.addGateway('gw-c', { MEGLE_DRAIN_MS: '30000' });
        //  The sender's gateway lets it send megabytes at once (the
        //  per-connection rate limits would close it for flooding).
        await stack.addGateway('gw-d', { MEGLE_RATE_BYTES: '0', MEGLE_RATE_MSGS: '0' });
        const raw = await rawClient(g.port);
        raw.send(JSON.stringify({ event: 'find_match', data: {} }));
        const x = await stack.client('gw-d');
        await waitFor(async () => (await stack.queueKeys()).length > 0,
                      { what: 'the raw client queued' });
        raw.sock.pause();
        x.send('find_match');
        const partner = (await x.next('match_found')).data.partner_id;

        const PAYLOAD = 60000;
        const kernel = await kernelBuffering();
        const count = Math.ceil((kernel + 2e6) / PAYLOAD);
        assert.ok(count * (PAYLOAD + 200) < kernel + 4e6,
                  'what piles up in the gateway stays below its queue bound');
        const pad = 'x'.repeat(PAYLOAD);
        for (let i = 0; i < count; i++) x.signal(partner, 'candidate', { i, pad });
        await waitFor(async () =>
            (await scrape(g.port)).value('megle_gateway_messages_out_total',
                                         { event: 'signal' }) === count,
        { timeout: 20000, what: `gw-c queued ${count} signals for its slow client` });

        assert.equal((await g.get('/readyz')).status, 200);
        g.proc.signal('SIGTERM');
        await waitFor(async () => (await g.get('/readyz')).status === 503,
                      { timeout: 5000, interval: 5, what: 'gw-c /readyz 503 during the drain' });
        assert.ok(g.proc.alive, 'the gateway is still draining');
        assert.ok(!raw.closed, 'its client is still connected');
        const m = await scrape(g.port);
        assert.equal(m.value('megle_gateway_draining'), 1);
        assert.equal(m.value('megle_gateway_connections'), 1);
        //  the partner hears at once (BYE), before the drain ends
        assert.equal((await x.next('partner_left')).data.from, partner);

        //  The client reads again: it gets everything, then 1001, and the
        //  gateway exits.
        raw.sock.resume();
        await raw.done;
        assert.equal(closeCode(raw.data), 1001, 'closed with 1001 going away');
        const exit = await g.proc.done;
        assert.equal(exit.code, 0, `gateway exit ${JSON.stringify(exit)}`);
        stack.gateways.delete('gw-c');
    }, 60000);
    test('6. every listening socket is bound to loopback as configured', async () => {
        //  /proc/net/tcp{,6}: "sl local rem st ...", local = hex addr:port,
        //  st 0A = LISTEN. 127.0.0.1 is 0100007F (little-endian).
        const listening = [];
        for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
            let text = '';
            try { text = readFileSync(file, 'utf8'); } catch { continue; }
            for (const line of text.split('\n').slice(1)) {
                const f = line.trim().split(/\s+/);
                if (f.length < 4 || f[3] !== '0A') continue;
                const [addr, port] = f[1].split(':');
                listening.push({ addr, port: parseInt(port, 16) });
            }
        }
        const ports = [...stack.gateways.values()].map((g) => g.port);
        ports.push(matcherPort);
        for (const ep of [stack.busIn, stack.busOut]) ports.push(Number(ep.split(':').pop()));
        for (const port of ports) {
            const socks = listening.filter((l) => l.port === port);
            assert.ok(socks.length > 0, `something listens on ${port}`);
            for (const l of socks) {
                assert.equal(l.addr, '0100007F',
                             `port ${port} listens on 127.0.0.1 only, not ${l.addr}`);
            }
        }
    });
});
