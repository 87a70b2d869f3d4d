//  it.wsfuzz - hostile WebSocket input against a live gateway. A raw TCP
//  socket and our own frame writer send what a WebSocket library never
//  would: fragmented messages with control frames in between (and data
//  frames where they must not be), binary, ping/pong/close with odd
//  payloads, reserved opcodes and RSV bits, invalid UTF-8, unmasked client
//  frames, a 1 MiB message, JSON nested 10,000 deep, huge numbers,
//  duplicate keys, truncated frames, broken handshakes, random bytes and
//  randomly mutated valid frames. The cases come from a seeded PRNG (the
//  seed is printed, and MEGLE_WSFUZZ_SEED replays a run); their number and
//  the time they take are bounded. Afterwards the gateway must be alive,
//  its memory bounded, and two normal clients must still match and relay.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';

import { startStack, guarded, waitFor } from '../lib/stack.mjs';

const SEED = Number(process.env.MEGLE_WSFUZZ_SEED) || (Date.now() % 2147483647);
const CASES = Number(process.env.MEGLE_WSFUZZ_CASES) || 400;
const TIME_BUDGET_MS = 60000; //  stop generating cases after this long
const PARALLEL = 4;
const RSS_GROWTH_MAX = 96 * 1024 * 1024; //  bytes (ASan builds are large)

//  ---------------------------------------------------------------------
//  Seeded PRNG (mulberry32): the same seed gives the same cases.

function prng(seed) {
    let a = seed >>> 0;
    const next = () => {
        a = (a + 0x6D2B79F5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const r = {
        next,
        int: (n) => Math.floor(next() * n), //  0 .. n-1
        pick: (arr) => arr[Math.floor(next() * arr.length)],
        bytes: (n) => {
            const b = Buffer.alloc(n);
            for (let i = 0; i < n; i++) b[i] = Math.floor(next() * 256);
            return b;
        },
        chance: (p) => next() < p,
    };
    return r;
}

//  ---------------------------------------------------------------------
//  Frame writer: any header, any length field, masked or not.

function wsFrame({ fin = true, rsv = 0, opcode = 1, payload = Buffer.alloc(0),
                   mask = true, key = null, lengthOverride = null }) {
    const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    const len = lengthOverride ?? data.length;
    const head = [((fin ? 1 : 0) << 7) | ((rsv & 7) << 4) | (opcode & 0x0f)];
    let ext = Buffer.alloc(0);
    if (len < 126) {
        head.push((mask ? 0x80 : 0) | len);
    } else if (len < 65536) {
        head.push((mask ? 0x80 : 0) | 126);
        ext = Buffer.alloc(2);
        ext.writeUInt16BE(len);
    } else {
        head.push((mask ? 0x80 : 0) | 127);
        ext = Buffer.alloc(8);
        ext.writeBigUInt64BE(BigInt(len));
    }
    let body = data;
    let maskKey = Buffer.alloc(0);
    if (mask) {
        maskKey = key || randomBytes(4);
        body = Buffer.alloc(data.length);
        for (let i = 0; i < data.length; i++) body[i] = data[i] ^ maskKey[i & 3];
    }
    return Buffer.concat([Buffer.from(head), ext, maskKey, body]);
}

const text = (s, o = {}) => wsFrame({ opcode: 1, payload: Buffer.from(s), ...o });
const closeFrame = (payload) => wsFrame({ opcode: 8, payload });

//  A server frame parser (server frames are never masked): enough to read
//  the gateway's text messages and its close code.
function parseServer(buf) {
    const out = [];
    let off = 0;
    for (;;) {
        if (buf.length < off + 2) break;
        const op = buf[off] & 0x0f;
        let len = buf[off + 1] & 0x7f;
        let at = off + 2;
        if (len === 126) {
            if (buf.length < at + 2) break;
            len = buf.readUInt16BE(at);
            at += 2;
        } else if (len === 127) {
            if (buf.length < at + 8) break;
            len = Number(buf.readBigUInt64BE(at));
            at += 8;
        }
        if (buf.length < at + len) break;
        out.push({ op, payload: buf.subarray(at, at + len) });
        off = at + len;
    }
    return out;
}

//  ---------------------------------------------------------------------
//  One raw connection: optional handshake, then bytes.

function handshake(port, { key = randomBytes(16).toString('base64'), extra = '',
                           version = '13', path = '/ws' } = {}) {
    return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
        'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: ${version}\r\n` +
        `Origin: http://127.0.0.1:${port}\r\n${extra}\r\n`;
}

//  Run one case: connect, (handshake and wait for 101), send the chunks,
//  then give the server quiet time to answer (or, with `until`, wait up to
//  5 s until until(texts) holds); resolve with what it sent.
function runCase(port, { upgrade = true, raw = null, chunks = [], settleMs = 150,
                         endAfter = false, until = null }) {
    return new Promise((resolve) => {
        const sock = net.connect(port, '127.0.0.1');
        let got = Buffer.alloc(0);
        let upgraded = false;
        let closed = false;
        let timer = null;
        const finish = () => {
            if (timer) clearTimeout(timer);
            if (!closed) sock.destroy();
            const frames = upgraded ? parseServer(got) : [];
            resolve({ upgraded, closed, frames, head: got.toString('latin1', 0, 64) });
        };
        const hardStop = setTimeout(finish, 5000);
        const quiet = () => {
            if (until) {
                const texts = parseServer(got).filter((f) => f.op === 1)
                    .map((f) => f.payload.toString('utf8'));
                if (upgraded && until(texts)) {
                    clearTimeout(hardStop);
                    finish();
                }
                return;
            }
            if (timer) clearTimeout(timer);
            timer = setTimeout(() => {
                clearTimeout(hardStop);
                finish();
            }, settleMs);
        };
        sock.on('error', () => {});
        sock.on('close', () => {
            closed = true;
            clearTimeout(hardStop);
            finish();
        });
        const send = () => {
            for (const c of chunks) {
                if (sock.destroyed) break;
                sock.write(c);
            }
            if (endAfter) sock.end();
            quiet();
        };
        sock.on('data', (d) => {
            if (!upgraded && upgrade) {
                got = Buffer.concat([got, d]);
                const end = got.indexOf('\r\n\r\n');
                if (end < 0) return;
                if (!/^HTTP\/1\.1 101/.test(got.toString('latin1', 0, 12))) {
                    quiet();
                    return;
                }
                upgraded = true;
                got = got.subarray(end + 4);
                send();
                return;
            }
            got = Buffer.concat([got, d]);
            quiet();
        });
        sock.on('connect', () => {
            if (raw) sock.write(raw);
            if (upgrade) sock.write(handshake(port));
            else send();
        });
    });
}

//  ---------------------------------------------------------------------
//  Case generators: each returns { name, chunks, ... } for runCase.

const FIND = '{"event":"find_match","data":{}}';
const ID = 'a'.repeat(32);

function splitRandom(r, buf, pieces) {
    const cuts = new Set();
    while (cuts.size < Math.min(pieces - 1, buf.length - 1)) cuts.add(1 + r.int(buf.length - 1));
    const sorted = [...cuts].sort((x, y) => x - y);
    const out = [];
    let prev = 0;
    for (const c of sorted) {
        out.push(buf.subarray(prev, c));
        prev = c;
    }
    out.push(buf.subarray(prev));
    return out;
}

//  A message cut into data frames (first text, then continuations).
function fragments(r, payload, { opcode = 1, interleave = null } = {}) {
    const parts = splitRandom(r, Buffer.from(payload), 2 + r.int(6));
    const out = [];
    parts.forEach((p, i) => {
        out.push(wsFrame({ opcode: i === 0 ? opcode : 0, fin: i === parts.length - 1,
                           payload: p }));
        if (interleave && i < parts.length - 1) out.push(interleave(i));
    });
    return out;
}

const INVALID_UTF8 = [
    [0xc3, 0x28], [0xa0, 0xa1], [0xe2, 0x28, 0xa1], [0xf0, 0x28, 0x8c, 0x28],
    [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80],
    [0xf5, 0x80, 0x80, 0x80], [0xff], [0xfe, 0xfe, 0xff, 0xff],
].map((b) => Buffer.from(b));

function deepJson(depth, open, close) {
    return `{"event":"find_match","data":{"interests":${open.repeat(depth)}` +
        `${close.repeat(depth)}}}`;
}

function hostileJson(r) {
    return r.pick([
        () => deepJson(10000, '[', ']'),
        () => `{"event":"signal","data":${'{"a":'.repeat(10000)}1${'}'.repeat(10000)}}`,
        () => deepJson(10000, '[', ''), //  never closed
        () => `{"event":"signal","data":{"target_id":${'9'.repeat(5000)},"type":"offer","payload":1e999999}}`,
        () => '{"event":"find_match","data":{"mode":-0,"x":1e-400,"y":123456789012345678901234567890}}',
        () => '{"event":"signal","data":{"target_id":1.7976931348623157e309,"type":"offer","payload":-1e309}}',
        () => `{"event":"find_match","event":"signal","data":{},"data":{"target_id":"${ID}","type":"offer","payload":{}}}`,
        () => `{"event":"signal","data":{"target_id":"${ID}","target_id":"${'b'.repeat(32)}","type":"offer","type":"answer","payload":1}}`,
        () => '{"event":"chat","data":{"text":"\\ud800"}}',
        () => '{"event":"chat","data":{"text":"a\\u0000b"}}',
        () => `{"event":"leave","data":{"target_id":"${'\\u0061'.repeat(32)}"}}`,
        () => '{"event":"find_match","data":{"interests":["' + 'x'.repeat(70000) + '"]}}',
        () => '\ufeff' + FIND,
        () => '{"event":"find_match","data":{}}garbage',
        () => '{"event":"find_match","data":{}',
        () => '[' + FIND + ']',
        () => 'null',
        () => '"' + '\\'.repeat(1001) + '"',
        () => JSON.stringify({ event: 'signal', data: { target_id: ID, type: 'candidate',
                                                        payload: { x: 'y'.repeat(60000) } } }),
        () => JSON.stringify({ event: r.pick(['find_match', 'signal', 'leave', 'chat', 'typing', 'report', 'x', '']),
                               data: r.pick([{}, null, [], 1, 'x', { target_id: r.bytes(16).toString('hex') }]) }),
    ])();
}

//  Flip a few bits or bytes of a valid frame (header included).
function mutate(r, buf) {
    const b = Buffer.from(buf);
    const n = 1 + r.int(4);
    for (let i = 0; i < n; i++) {
        const at = r.int(b.length);
        if (r.chance(0.5)) b[at] ^= 1 << r.int(8);
        else b[at] = r.int(256);
    }
    return b;
}

function makeCase(r) {
    const kind = r.int(22);
    switch (kind) {
    case 0: //  a valid message in pieces with pings and pongs in between
        return { name: 'fragmented+control', expectWaiting: true,
                 until: (texts) => texts.some((t) => /"(waiting|match_found)"/.test(t)),
                 chunks: fragments(r, FIND, { interleave: (i) => wsFrame({
                     opcode: i % 2 ? 9 : 10, payload: r.bytes(r.int(126)) }) }) };
    case 1: //  a new data frame while a fragmented message is open
        return { name: 'interleaved data frame', chunks: [
            wsFrame({ opcode: 1, fin: false, payload: '{"event":' }),
            text(FIND),
            wsFrame({ opcode: 0, fin: true, payload: '"find_match","data":{}}' })] };
    case 2: //  a continuation nobody started
        return { name: 'orphan continuation', chunks: [
            wsFrame({ opcode: 0, fin: r.chance(0.5), payload: r.bytes(r.int(200)) })] };
    case 3: //  binary, whole or in pieces
        return { name: 'binary', chunks: r.chance(0.5)
            ? [wsFrame({ opcode: 2, payload: r.bytes(r.int(3000)) })]
            : fragments(r, r.bytes(10 + r.int(3000)), { opcode: 2 }) };
    case 4: //  control frames breaking their rules
        return { name: 'bad control', chunks: [r.pick([
            () => wsFrame({ opcode: 9, payload: r.bytes(126 + r.int(400)) }),
            () => wsFrame({ opcode: 9, fin: false, payload: r.bytes(r.int(20)) }),
            () => wsFrame({ opcode: 10, payload: r.bytes(r.int(125)) }),
            () => wsFrame({ opcode: 10, fin: false, payload: r.bytes(200) }),
        ])()] };
    case 5: //  close with odd payloads
        return { name: 'odd close', chunks: [closeFrame(r.pick([
            () => Buffer.from([0x03]),
            () => Buffer.from([0x03, 0xe7]), //  999
            () => Buffer.from([0x03, 0xed]), //  1005 (reserved)
            () => Buffer.from([0x13, 0x88]), //  5000
            () => Buffer.concat([Buffer.from([0x03, 0xe8]), r.pick(INVALID_UTF8)]),
            () => Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.alloc(123, 0x41)]),
            () => r.bytes(126 + r.int(100)),
            () => Buffer.alloc(0),
        ])())] };
    case 6: //  reserved opcodes
        return { name: 'reserved opcode', chunks: [wsFrame({
            opcode: r.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), payload: r.bytes(r.int(300)) })] };
    case 7: //  RSV bits without an extension
        return { name: 'rsv bits', chunks: [wsFrame({ rsv: 1 + r.int(7), payload: FIND })] };
    case 8: //  invalid UTF-8, whole or split over fragments
        {
            const bad = Buffer.concat([Buffer.from('{"event":"chat","data":{"text":"'),
                                       r.pick(INVALID_UTF8), Buffer.from('"}}')]);
            return { name: 'invalid utf-8', chunks: r.chance(0.5) ? [wsFrame({ payload: bad })]
                : fragments(r, bad) };
        }
    case 9: //  a client frame without mask
        return { name: 'unmasked', chunks: [wsFrame({ mask: false, payload: FIND })] };
    case 10: //  1 MiB in one frame or many
        {
            const big = Buffer.alloc(1024 * 1024, 0x61);
            return { name: '1 MiB message', settleMs: 400, chunks: r.chance(0.5)
                ? [wsFrame({ payload: big })]
                : fragments(r, big) };
        }
    case 11:
    case 12: //  hostile JSON: nesting, numbers, duplicate keys, ...
        return { name: 'hostile json', chunks: [text(hostileJson(r))] };
    case 13: //  a header announcing more than is sent, then silence or EOF
        return { name: 'truncated', endAfter: r.chance(0.5), chunks: [r.pick([
            () => wsFrame({ payload: FIND }).subarray(0, 1 + r.int(10)),
            () => wsFrame({ payload: r.bytes(100), lengthOverride: 5000 }).subarray(0, 60),
            () => Buffer.from([0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0]), //  2^63
            () => Buffer.from([0x81, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
                               1, 2, 3, 4]), //  4 GiB announced
        ])()] };
    case 14: //  random bytes after the upgrade
        return { name: 'random bytes', chunks: [r.bytes(1 + r.int(4096))] };
    case 15: //  random bytes instead of a handshake
        return { name: 'random handshake', upgrade: false,
                 chunks: [r.bytes(1 + r.int(2048))] };
    case 16: //  broken handshakes
        return { name: 'broken handshake', upgrade: false, chunks: [Buffer.from(r.pick([
            () => 'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
            () => handshake(1, { version: '8' }),
            () => handshake(1, { key: 'short' }),
            () => handshake(1, { extra: `X-Big: ${'a'.repeat(9000)}\r\n` }),
            () => handshake(1, { extra: 'Sec-WebSocket-Extensions: permessage-deflate\r\n' }),
            () => handshake(1, { path: '/ws/../../etc/passwd' }),
            () => 'GET /ws HTTP/1.1\r\n' + 'X: y\r\n'.repeat(2000) + '\r\n',
            () => handshake(1).slice(0, 30),
        ])(), 'latin1')] };
    case 17:
    case 18:
    case 19: //  valid frames, mutated
        {
            const base = r.pick([
                () => text(FIND),
                () => text(hostileJson(r)),
                () => closeFrame(Buffer.from([0x03, 0xe8])),
                () => wsFrame({ opcode: 9, payload: 'ping' }),
                () => text(JSON.stringify({ event: 'signal', data: { target_id: ID, type: 'offer',
                                                                     payload: { sdp: 'v=0' } } })),
            ])();
            return { name: 'mutated frame', chunks: [mutate(r, base)] };
        }
    default: //  many small valid and invalid messages in a row
        {
            const chunks = [];
            const n = 5 + r.int(40);
            for (let i = 0; i < n; i++) {
                chunks.push(r.chance(0.7) ? text(hostileJson(r))
                    : mutate(r, text(FIND)));
            }
            return { name: 'burst', chunks };
        }
    }
}

//  ---------------------------------------------------------------------

function rssBytes(pid) {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
}

let stack;
const test = (name, fn, timeout = 150000) =>
    it(name, { timeout }, guarded(() => stack, fn));

describe('WebSocket fuzz', () => {
    before(async () => {
        process.stderr.write(`# wsfuzz seed ${SEED} (replay: MEGLE_WSFUZZ_SEED=${SEED})\n`);
        stack = await startStack({ gateways: ['gw-a', 'gw-b'] });
    });
    after(async () => {
        if (stack) await stack.stop();
    });

    test('random and malformed frames: the gateway stays up, bounded, and still matches', async () => {
        const gw = stack.gw('gw-a');
        const r = prng(SEED);
        const rssBefore = rssBytes(gw.proc.pid);
        const started = Date.now();
        const seen = new Map();
        let ran = 0;
        let waitingSeen = 0;
        let waitingExpected = 0;
        try {
            while (ran < CASES && Date.now() - started < TIME_BUDGET_MS) {
                const batch = [];
                for (let i = 0; i < PARALLEL && ran < CASES; i++, ran++) {
                    const c = makeCase(r);
                    seen.set(c.name, (seen.get(c.name) || 0) + 1);
                    batch.push(runCase(gw.port, c).then((res) => {
                        if (c.expectWaiting) {
                            waitingExpected++;
                            const texts = res.frames.filter((f) => f.op === 1)
                                .map((f) => f.payload.toString('utf8'));
                            //  Queued, or matched with another fuzz session.
                            if (texts.some((t) => /"(waiting|match_found)"/.test(t))) waitingSeen++;
                            else process.stderr.write(`# ${c.name}: got ${JSON.stringify(texts)}\n`);
                        }
                    }));
                }
                await Promise.all(batch);
                assert.ok(gw.proc.alive, `gateway died after case ${ran}`);
            }
            process.stderr.write(`# wsfuzz: ${ran} cases in ${Date.now() - started} ms: ` +
                                 `${JSON.stringify(Object.fromEntries(seen))}\n`);
            //  A valid message split by control frames is still a valid
            //  message: the gateway answered it.
            assert.equal(waitingSeen, waitingExpected,
                         'fragmented find_match with pings in between not answered');

            //  Still alive, still serving, memory bounded.
            assert.ok(gw.proc.alive, 'gateway exited');
            assert.ok(stack.matcher.alive, 'matcher exited');
            assert.equal((await gw.get('/healthz')).status, 200);
            await stack.waitReady(gw);
            const rssAfter = rssBytes(gw.proc.pid);
            process.stderr.write(`# gateway RSS ${(rssBefore / 1048576).toFixed(1)} -> ` +
                                 `${(rssAfter / 1048576).toFixed(1)} MiB\n`);
            assert.ok(rssAfter - rssBefore < RSS_GROWTH_MAX,
                      `gateway RSS grew by ${rssAfter - rssBefore} bytes`);
            //  Every fuzz connection is gone: nobody left queued.
            await waitFor(async () => (await stack.queueKeys()).length === 0,
                          { timeout: 10000, what: 'no fuzz session left in a queue' });

            //  Two normal clients still match and relay, across gateways.
            const { x, y } = await stack.pair('gw-a', 'gw-b');
            x.signal(y.id, 'offer', { type: 'offer', sdp: 'v=0 after fuzz' });
            const s = await y.next('signal');
            assert.equal(s.data.sender_id, x.id);
            assert.deepEqual(s.data.payload, { type: 'offer', sdp: 'v=0 after fuzz' });
            y.send('chat', { text: 'still here' });
            assert.equal((await x.next('chat')).data.text, 'still here');
        } catch (err) {
            err.message = `[wsfuzz seed ${SEED}, case ${ran}] ${err.message}`;
            throw err;
        }
    });
});
