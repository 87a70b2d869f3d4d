//  it.tap - megle-tap against the real stack: redis-server, a matcher with
//  a tap socket (MEGLE_TAP), two gateways and two WebSocket clients, with
//  megle-tap processes as children (MEGLE_TAP_BIN, set by tests/tap.cmake).
//
//  A tap counts as listening once the matcher logged its subscription
//  ("tap: subscriber attached"), so nothing here sleeps: every wait is a
//  condition with a deadline.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync,
         writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startStack, waitFor, freePort } from '../lib/stack.mjs';

const TAP_BIN = process.env.MEGLE_TAP_BIN;
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const LIVE = new Set();
process.on('exit', () => {
    for (const child of LIVE) {
        try {
            child.kill('SIGKILL');
        } catch {
            //  gone
        }
    }
});

//  One megle-tap child: stdout and stderr lines, kept.
class Tap {
    constructor(args, env = {}) {
        if (!TAP_BIN || !existsSync(TAP_BIN)) {
            throw new Error('MEGLE_TAP_BIN is not set: run through ctest');
        }
        this.args = args;
        this.out = [];
        this.err = [];
        this.exited = null;
        const argv = SETPRIV
            ? [SETPRIV, '--pdeathsig', 'KILL', '--', TAP_BIN, ...args]
            : [TAP_BIN, ...args];
        this.child = spawn(argv[0], argv.slice(1), {
            env: { ...process.env, ...env },
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        LIVE.add(this.child);
        const split = (into) => {
            let partial = '';
            return (chunk) => {
                const lines = (partial + chunk.toString('utf8')).split('\n');
                partial = lines.pop();
                into.push(...lines);
            };
        };
        this.child.stdout.on('data', split(this.out));
        this.child.stderr.on('data', split(this.err));
        this.done = new Promise((resolve) => {
            this.child.on('close', (code, signal) => {
                LIVE.delete(this.child);
                this.exited = { code, signal };
                resolve(this.exited);
            });
        });
    }

    json() {
        return this.out.filter((l) => l.length).map((l) => JSON.parse(l));
    }

    async stop() {
        if (!this.exited) this.child.kill('SIGTERM');
        const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
        await this.done;
        clearTimeout(timer);
        assert.equal(this.exited.code, 0,
                     `megle-tap ${this.args.join(' ')} exited ` +
                     `${JSON.stringify(this.exited)}: ${this.err.join('\n')}`);
    }

    report() {
        return `megle-tap ${this.args.join(' ')}\n  stdout: ` +
               this.out.slice(-20).join('\n  ') + '\n  stderr: ' +
               this.err.slice(-20).join('\n  ');
    }
}

let stack;
let tapEp;
let dir;
const taps = [];

function attached() {
    return stack.matcher.lines.filter((l) =>
        l.includes('tap: subscriber attached')).length;
}

//  Start taps (argument lists) and wait until the matcher has seen every
//  one's subscription.
async function startTaps(...argLists) {
    const before = attached();
    const started = argLists.map((args) => new Tap(['--tap', tapEp, ...args]));
    taps.push(...started);
    await waitFor(() => attached() >= before + started.length,
                  { timeout: 10000, what: 'taps subscribed at the matcher' });
    return started;
}

before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'megle-tap-'));
    tapEp = `tcp://127.0.0.1:${await freePort()}`;
    stack = await startStack({ gateways: ['gw-a', 'gw-b'],
                               matcherEnv: { MEGLE_TAP: tapEp } });
});

after(async () => {
    for (const t of taps) {
        if (!t.exited) t.child.kill('SIGKILL');
    }
    if (stack) await stack.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
});

//  Find each expectation (a predicate) in order in frames; returns the
//  index of each match.
function inOrder(frames, expectations) {
    const at = [];
    let from = 0;
    for (const [i, want] of expectations.entries()) {
        const k = frames.findIndex((f, j) => j >= from && want.pred(f));
        assert.ok(k >= 0, `expected #${i} (${want.what}) after frame ` +
                  `${from}; frames:\n` + frames.map((f) =>
            `${f.dir} ${f.kind} ${f.gateway} ${f.session || ''} ${f.type || ''}`)
            .join('\n'));
        at.push(k);
        from = k + 1;
    }
    return at;
}

function want(dir, kind, gateway, session, extra = {}) {
    return {
        what: `${dir} ${kind} ${gateway} ${session?.slice(0, 8)} ` +
              JSON.stringify(extra),
        pred: (f) => f.dir === dir && f.kind === kind && f.gateway === gateway &&
                     (session === undefined || f.session === session) &&
                     Object.entries(extra).every(([k, v]) => f[k] === v),
    };
}

test('a match, signals and a leave through two gateways, as the tap sees ' +
     'them', async () => {
    const marker = `TAPMARK${Math.random().toString(16).slice(2, 10)}`;
    const record = path.join(dir, 'live.rec');
    const [all, types, outs, redact, human, recorder, gwb] = await startTaps(
        ['--json'],
        ['--json', '--type', 'signal,deliver'],
        ['--json', '--direction', 'out'],
        ['--json', '--redact'],
        ['--wide', '--no-color', '--redact'],
        ['--json', '--record', record],
        ['--json', '--gateway', 'gw-b']);
    const redactHuman = human;
    let x, y;
    try {
        x = await stack.client('gw-a');
        y = await stack.client('gw-b');
        const [bySession] = await startTaps(['--json', '--session', x.id]);

        x.send('find_match');
        await x.next('waiting');
        y.send('find_match');
        const my = await y.next('match_found');
        const mx = await x.next('match_found');
        assert.equal(my.data.partner_id, x.id);
        assert.equal(my.data.initiator, true);
        assert.equal(mx.data.initiator, false);
        const sdpOffer = { type: 'offer', sdp: `${marker} v=0 o=- 1 2 IN IP4 10.0.0.1` };
        y.signal(x.id, 'offer', sdpOffer);
        await x.next('signal');
        x.signal(y.id, 'answer', { type: 'answer', sdp: `${marker} v=0 answer` });
        await y.next('signal');
        y.signal(x.id, 'candidate', { candidate: `candidate:1 1 UDP 1 10.0.0.1 9 typ host ${marker}`, sdpMid: '0' });
        await x.next('signal');
        x.signal(y.id, 'candidate', { candidate: 'candidate:2 1 UDP 1 10.0.0.2 9 typ host', sdpMid: '0' });
        await y.next('signal');
        x.send('leave', { target_id: y.id });
        await y.next('partner_left');

        //  The last frame of the exchange (x's ENDED) reached every tap
        //  that shows it.
        const endedFor = (t) => t.json().some((f) => f.kind === 'ended' && f.session === x.id);
        for (const t of [all, outs, redact, recorder, bySession]) {
            await waitFor(() => endedFor(t), { timeout: 5000, what: `ended in ${t.args.join(' ')}` });
        }
        await waitFor(() => types.json().filter((f) => f.kind === 'deliver').length >= 4,
                      { timeout: 5000, what: 'four deliver frames in --type tap' });
        await waitFor(() => gwb.json().some((f) => f.kind === 'partner_left'),
                      { timeout: 5000, what: 'partner_left in --gateway gw-b tap' });
        await waitFor(() => redactHuman.out.some((l) => / ended /.test(l)),
                      { timeout: 5000, what: 'ended in human tap' });
        for (const t of taps) await t.stop();
    } catch (err) {
        for (const t of taps) process.stderr.write(t.report() + '\n');
        throw err;
    }

    //  Every --json line parses (json() throws otherwise), both directions.
    const frames = all.json();
    const mine = (f) => [x.id, y.id].includes(f.session) || [x.id, y.id].includes(f.peer);
    const session = frames.filter(mine);
    inOrder(session, [
        want('in', 'open', 'gw-a', x.id),
        want('in', 'open', 'gw-b', y.id),
        want('in', 'find', 'gw-a', x.id),
        want('out', 'waiting', 'gw-a', x.id),
        want('in', 'find', 'gw-b', y.id),
        want('out', 'matched', 'gw-b', y.id, { peer: x.id, flags: 1 }),
        want('out', 'matched', 'gw-a', x.id, { peer: y.id, flags: 0 }),
        want('in', 'signal', 'gw-b', y.id, { peer: x.id, type: 'offer' }),
        want('out', 'deliver', 'gw-a', x.id, { peer: y.id, type: 'offer' }),
        want('in', 'signal', 'gw-a', x.id, { peer: y.id, type: 'answer' }),
        want('out', 'deliver', 'gw-b', y.id, { peer: x.id, type: 'answer' }),
        want('in', 'signal', 'gw-b', y.id, { type: 'candidate' }),
        want('out', 'deliver', 'gw-a', x.id, { type: 'candidate' }),
        want('in', 'signal', 'gw-a', x.id, { type: 'candidate' }),
        want('out', 'deliver', 'gw-b', y.id, { type: 'candidate' }),
        want('in', 'leave', 'gw-a', x.id, { peer: y.id }),
        want('out', 'partner_left', 'gw-b', y.id, { peer: x.id }),
        want('out', 'ended', 'gw-a', x.id),
    ]);
    //  Nothing about these two sessions beyond that (no error, no repeat).
    assert.equal(session.length, 18, session.map((f) => f.kind).join(' '));
    const match = session.find((f) => f.kind === 'matched').match;
    assert.match(match, /^[0-9a-f]{32}$/);
    for (const f of session.filter((g) => ['deliver', 'partner_left', 'ended'].includes(g.kind))) {
        assert.equal(f.match, match, `${f.kind} carries the match id`);
    }
    //  Payloads shown truncated (60 bytes) by default, the marker included.
    const offer = session.find((f) => f.kind === 'signal' && f.type === 'offer');
    assert.ok(offer.payload.includes(marker), offer.payload);
    assert.equal(offer.payload_truncated, true);
    assert.equal(Buffer.byteLength(offer.payload), 60);

    //  Filters select exactly what they should: compare each filtered tap
    //  with the unfiltered one over the span of the exchange.
    const first = session[0].t;
    const last = session[session.length - 1].t;
    const span = (list) => list.filter((f) => f.t >= first && f.t <= last)
        .map((f) => JSON.stringify(f));
    const allIn = (pred) => span(frames.filter(pred));
    assert.deepEqual(span(types.json()),
                     allIn((f) => f.kind === 'signal' || f.kind === 'deliver'));
    assert.equal(types.json().length, 8);
    assert.deepEqual(span(outs.json()), allIn((f) => f.dir === 'out'));
    assert.ok(outs.json().every((f) => f.dir === 'out'));
    assert.deepEqual(span(gwb.json()), allIn((f) => f.gateway === 'gw-b'));
    const sessionTap = taps[taps.length - 1].json();
    assert.ok(sessionTap.length >= 14, `--session saw ${sessionTap.length}`);
    assert.ok(sessionTap.every((f) => f.session === x.id || f.peer === x.id));
    const fromFind = session.find((f) => f.kind === 'find' && f.session === x.id).t;
    assert.deepEqual(sessionTap.filter((f) => f.t >= fromFind).map((f) => JSON.stringify(f)),
                     frames.filter((f) => f.t >= fromFind && f.t <= last &&
                                   (f.session === x.id || f.peer === x.id))
                         .map((f) => JSON.stringify(f)));

    //  --redact: no payload bytes, in either format; lengths still shown.
    for (const t of [redact, redactHuman]) {
        const text = t.out.join('\n');
        assert.ok(!text.includes(marker), `payload leaked by ${t.args.join(' ')}`);
        assert.ok(!text.includes('10.0.0.1'), `payload leaked by ${t.args.join(' ')}`);
    }
    const redactedOffer = redact.json().find((f) => f.kind === 'signal' && f.type === 'offer');
    assert.equal(redactedOffer.payload, undefined);
    assert.equal(redactedOffer.payload_len, offer.payload_len);
    assert.equal(redactedOffer.redacted, true);
    //  Human format: aligned columns with full ids (--wide).
    const line = redactHuman.out.find((l) => l.includes('type=offer'));
    assert.match(line, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} gw→m signal +gw-b +${y.id} ${x.id} .*type=offer \\[${offer.payload_len} bytes redacted\\]$`));
    assert.ok(redactHuman.out.some((l) => l.includes(`m→gw matched      gw-b     ${y.id} ${x.id}`)), redactHuman.out.join('\n'));

    //  --record then --replay: the same JSON lines as the live tap printed,
    //  and a recording of the replay is byte-identical.
    const replay = spawnSync(TAP_BIN, ['--replay', record, '--json'], { timeout: 20000 });
    assert.equal(replay.status, 0, replay.stderr.toString());
    const replayed = replay.stdout.toString().split('\n').filter((l) => l);
    assert.deepEqual(replayed, recorder.out.filter((l) => l));
    assert.ok(replayed.length >= 18);
    const again = path.join(dir, 'again.rec');
    const rerecord = spawnSync(TAP_BIN, ['--replay', record, '--record', again, '-q'],
                               { timeout: 20000 });
    assert.equal(rerecord.status, 0, rerecord.stderr.toString());
    assert.equal(rerecord.stdout.length, 0);
    assert.ok(readFileSync(record).equals(readFileSync(again)));
    //  Replay applies the same filters.
    const only = spawnSync(TAP_BIN, ['--replay', record, '--json', '--type', 'deliver',
                                     '--session', x.id.slice(0, 8)], { timeout: 20000 });
    assert.equal(only.status, 0, only.stderr.toString());
    const onlyFrames = only.stdout.toString().split('\n').filter((l) => l).map((l) => JSON.parse(l));
    assert.equal(onlyFrames.length, 4);
    assert.ok(onlyFrames.every((f) => f.kind === 'deliver'));
});

//  A frame as frame_encode writes it: [1, kind, gw, "", "", "", 0, "", bin, time].
function frameBytes(kind, gw, version = 1) {
    const time = Buffer.alloc(8);
    time.writeBigUInt64BE(BigInt(Date.now()));
    return Buffer.concat([
        Buffer.from([0x9a, version, kind, 0xa0 | gw.length]), Buffer.from(gw),
        Buffer.from([0xa0, 0xa0, 0xa0, 0x00, 0xa0, 0xc4, 0x00, 0xcf]), time]);
}

function recordFile(frames) {
    const parts = [Buffer.from('MEGLETAP'), Buffer.from([0, 0, 0, 1])];
    for (const data of frames) {
        const head = Buffer.alloc(13);
        head[0] = 1; //  in
        head.writeBigUInt64BE(BigInt(Date.now()) * 1000n, 1);
        head.writeUInt32BE(data.length, 9);
        parts.push(head, data);
    }
    return Buffer.concat(parts);
}

test('corrupt frames injected on the bus show as corrupt; the tap goes on',
     async () => {
    const [tap] = await startTaps(['--json', '--direction', 'in']);
    const file = path.join(dir, 'inject.rec');
    //  A garbage frame, a frame of an unknown version, then a valid frame
    //  (an outbound kind sent inbound: the matcher drops it, harmlessly).
    writeFileSync(file, recordFile([
        Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00]),
        frameBytes(20, 'gw-probe', 2),
        frameBytes(20, 'gw-probe'),
    ]));
    const send = spawnSync(TAP_BIN, ['--replay', file, '--send', stack.busIn, '--json'],
                           { timeout: 20000 });
    assert.equal(send.status, 0, send.stderr.toString());
    assert.match(send.stderr.toString(), /sent 3 frames/);
    try {
        await waitFor(() => tap.json().some((f) => f.kind === 'waiting' && f.gateway === 'gw-probe'),
                      { timeout: 5000, what: 'the valid frame after the corrupt ones' });
        await tap.stop();
    } catch (err) {
        process.stderr.write(tap.report() + '\n');
        throw err;
    }
    const seen = tap.json().filter((f) => f.corrupt || f.gateway === 'gw-probe');
    assert.equal(seen.length, 3, JSON.stringify(seen));
    assert.deepEqual(seen.map((f) => [f.dir, !!f.corrupt]),
                     [['in', true], ['in', true], ['in', false]]);
    assert.equal(seen[0].hex, 'deadbeef00');
    assert.equal(seen[0].len, 5);
    assert.ok(seen[0].error.length > 0);
    assert.match(seen[1].error, /version/);
    assert.ok(stack.matcher.alive);
});

test('--pub attaches to the PUB bus and says it sees one direction',
     async () => {
    const tap = new Tap(['--pub', stack.busOut, '--json', '--count', '2']);
    taps.push(tap);
    await waitFor(() => tap.exited, { timeout: 10000, what: 'two pulses' });
    assert.equal(tap.exited.code, 0, tap.report());
    const frames = tap.json();
    assert.equal(frames.length, 2);
    assert.ok(frames.every((f) => f.dir === 'out' && f.kind === 'pulse'));
    assert.match(tap.err.join('\n'), /only matcher → gateway/);
});

test('an unreachable endpoint: the tap keeps trying and says so', async () => {
    const port = await freePort();
    const tap = new Tap(['--tap', `tcp://127.0.0.1:${port}`]);
    taps.push(tap);
    await waitFor(() => tap.err.some((l) => l.includes(`waiting for tcp://127.0.0.1:${port}`)),
                  { timeout: 5000, what: 'the waiting note' });
    assert.equal(tap.exited, null);
    await tap.stop();
});

test('bad options exit 2 with the reason', () => {
    for (const [args, reason] of [
        [['--type', 'nope'], /--type: unknown frame type 'nope'/],
        [['--session', 'XYZ'], /--session: 'XYZ'/],
        [['--gateway', 'a b'], /--gateway: 'a b'/],
        [['--direction', 'up'], /--direction: 'up'/],
        [['--count', '0'], /--count/],
        [['--duration', 'soon'], /--duration/],
        [['--send', 'tcp://127.0.0.1:1'], /--send needs --replay/],
        [['--pub', '--direction', 'in'], /only matcher -> gateway/],
    ]) {
        const r = spawnSync(TAP_BIN, args, { timeout: 10000 });
        assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr.toString(), reason);
    }
    const bad = path.join(dir, 'bad.rec');
    writeFileSync(bad, Buffer.concat([recordFile([frameBytes(20, 'gw-x')]).subarray(0, 20)]));
    const r = spawnSync(TAP_BIN, ['--replay', bad], { timeout: 10000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr.toString(), /truncated/);
    const help = spawnSync(TAP_BIN, ['--help'], { timeout: 10000 });
    assert.equal(help.status, 0);
    assert.match(help.stdout.toString(), /--redact/);
});
