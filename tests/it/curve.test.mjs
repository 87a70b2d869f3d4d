//  it.curve - CURVE on the bus (MEGLE_CURVE=1, docs/security.md): keys made
//  with megle-keygen in a temporary directory, a matcher that admits only
//  the client certs in its MEGLE_CURVE_CLIENTS directory, gateways and
//  megle-tap as CURVE clients. Shows that matching and relay work with
//  CURVE on, that a PUSH with a key the matcher does not know gets no
//  frame through (nothing reaches Redis; the matcher logs the refusal),
//  and that a SUB with an unknown key (or none) receives nothing while the
//  authorised traffic flows. MEGLE_KEYGEN_BIN and MEGLE_TAP_BIN are set by
//  tests/security.cmake.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync,
         writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startStack, guarded, waitFor, freePort } from '../lib/stack.mjs';
import { KIND, frame, recordFile, newId } from '../lib/frames.mjs';

const KEYGEN = process.env.MEGLE_KEYGEN_BIN;
const TAP = process.env.MEGLE_TAP_BIN;
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const LIVE = new Set();
process.on('exit', () => {
    for (const c of LIVE) {
        try {
            c.kill('SIGKILL');
        } catch {
            //  gone
        }
    }
});

//  A megle-tap child with its output lines.
function tap(args, env) {
    const argv = SETPRIV ? [SETPRIV, '--pdeathsig', 'KILL', '--', TAP, ...args]
        : [TAP, ...args];
    const child = spawn(argv[0], argv.slice(1), {
        env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    LIVE.add(child);
    const t = { child, out: [], err: [], exited: null };
    const split = (into) => {
        let partial = '';
        return (chunk) => {
            const lines = (partial + chunk.toString('utf8')).split('\n');
            partial = lines.pop();
            into.push(...lines.filter((l) => l.length));
        };
    };
    child.stdout.on('data', split(t.out));
    child.stderr.on('data', split(t.err));
    t.done = new Promise((resolve) => child.on('close', (code, signal) => {
        LIVE.delete(child);
        t.exited = { code, signal };
        resolve(t.exited);
    }));
    t.kill = async () => {
        if (!t.exited) child.kill('SIGKILL');
        await t.done;
    };
    t.frames = () => t.out.map((l) => JSON.parse(l));
    return t;
}

let stack;
let dir;
let keys;
const taps = [];
const test = (name, fn) => it(name, { timeout: 60000 }, guarded(() => stack, fn));

function keygen(file, name) {
    const r = spawnSync(KEYGEN, ['--name', name, file], { timeout: 10000 });
    assert.equal(r.status, 0, r.stderr.toString());
    const key = r.stdout.toString().trim();
    assert.equal(key.length, 40, `a Z85 key: ${key}`);
    return key;
}

//  The matcher's log lines matching re.
const matcherLines = (re) => stack.matcher.lines.filter((l) => re.test(l));

describe('CURVE on the bus', () => {
    before(async () => {
        assert.ok(KEYGEN && existsSync(KEYGEN), 'MEGLE_KEYGEN_BIN: run through ctest');
        assert.ok(TAP && existsSync(TAP), 'MEGLE_TAP_BIN: run through ctest');
        dir = mkdtempSync(path.join(os.tmpdir(), 'megle-curve-'));
        const clients = path.join(dir, 'clients');
        mkdirSync(clients);
        //  The allowed clients' public certs go into the matcher's
        //  directory; their secret halves stay with the clients.
        const client = (name) => {
            keygen(path.join(clients, `${name}.cert`), name);
            renameSync(path.join(clients, `${name}.cert_secret`),
                       path.join(dir, `${name}.cert_secret`));
            return path.join(dir, `${name}.cert_secret`);
        };
        keys = {
            matcher: keygen(path.join(dir, 'matcher.cert'), 'matcher'),
            matcherCert: path.join(dir, 'matcher.cert'),
            gateway: client('gateways'),
            tap: client('tap'),
        };
        keygen(path.join(dir, 'rogue.cert'), 'rogue');
        keys.rogue = path.join(dir, 'rogue.cert_secret');
        keys.tapEndpoint = `tcp://127.0.0.1:${await freePort()}`;
        stack = await startStack({
            gateways: ['gw-a'],
            matcherEnv: {
                MEGLE_CURVE: '1',
                MEGLE_CURVE_SERVER_CERT: path.join(dir, 'matcher.cert_secret'),
                MEGLE_CURVE_CLIENTS: clients,
                MEGLE_TAP: keys.tapEndpoint,
            },
            gatewayEnv: {
                MEGLE_CURVE: '1',
                MEGLE_CURVE_SERVER_KEY: keys.matcher,
                MEGLE_CURVE_CERT: keys.gateway,
            },
        });
        //  The matcher's key may also be given as its public cert file.
        await stack.addGateway('gw-b', { MEGLE_CURVE_SERVER_KEY: keys.matcherCert });
    });
    after(async () => {
        for (const t of taps) await t.kill();
        if (stack) await stack.stop();
        if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const tapEnv = (cert) => ({
        MEGLE_CURVE: '1', MEGLE_CURVE_SERVER_KEY: keys.matcher, MEGLE_CURVE_CERT: cert,
    });

    test('with CURVE on, gateways are admitted, match and relay', async () => {
        assert.ok(matcherLines(/CURVE on: server key/).length, stack.report());
        assert.ok(matcherLines(/zap: admitted client gateways/).length >= 2);
        const { x, y } = await stack.pair('gw-a', 'gw-b');
        x.signal(y.id, 'offer', { type: 'offer', sdp: 'v=0 curve' });
        const s = await y.next('signal');
        assert.equal(s.data.sender_id, x.id);
        assert.deepEqual(s.data.payload, { type: 'offer', sdp: 'v=0 curve' });
        y.send('chat', { text: 'over CURVE' });
        assert.equal((await x.next('chat')).data.text, 'over CURVE');
    });

    test('an unauthorised PUSH: its frames never reach Redis, the matcher logs the refusal', async () => {
        const rogueSid = newId();
        const rogueFile = path.join(dir, 'rogue.rec');
        writeFileSync(rogueFile, recordFile([
            frame({ kind: KIND.open, gateway: 'gw-rogue', session: rogueSid }),
            frame({ kind: KIND.find, gateway: 'gw-rogue', session: rogueSid,
                    type: 'video' }),
        ]));
        const refusedBefore = matcherLines(/zap: refused CURVE client/).length;
        const rogue = tap(['--replay', rogueFile, '--send', stack.busIn, '-q'],
                          tapEnv(keys.rogue));
        taps.push(rogue);
        await waitFor(() => matcherLines(/zap: refused CURVE client/).length > refusedBefore,
                      { timeout: 10000, what: 'the matcher refusing the rogue PUSH' });
        const line = matcherLines(/zap: refused CURVE client/).at(-1);
        assert.match(line, /not in MEGLE_CURVE_CLIENTS \(\d+ refused so far\)/);

        //  The same kind of frames from an authorised client do arrive:
        //  the rogue's absence is the refusal, not a malformed file.
        const goodSid = newId();
        const goodFile = path.join(dir, 'good.rec');
        writeFileSync(goodFile, recordFile([
            frame({ kind: KIND.open, gateway: 'gw-probe', session: goodSid }),
        ]));
        const good = tap(['--replay', goodFile, '--send', stack.busIn, '-q'],
                         tapEnv(keys.tap));
        taps.push(good);
        await waitFor(async () =>
            (await stack.redis.call('EXISTS', `{megle}:s:${goodSid}`)) === 1,
        { timeout: 10000, what: 'the authorised OPEN in Redis' });
        await good.done;
        assert.equal(good.exited.code, 0, good.err.join('\n'));

        //  Nothing of the rogue's is in Redis (libzmq dropped its frames
        //  with the refused connection, on the rogue's side).
        assert.equal(await stack.redis.call('EXISTS', `{megle}:s:${rogueSid}`), 0);
        assert.equal(await stack.redis.call('EXISTS', '{megle}:gw:gw-rogue'), 0);
        assert.equal(await stack.redis.call('SISMEMBER', '{megle}:q:video', rogueSid), 0);
        await rogue.kill();
        assert.equal(await stack.redis.call('EXISTS', `{megle}:s:${rogueSid}`), 0);

        //  Clean the probe session up again (CLOSE from the authorised tap).
        const closeFile = path.join(dir, 'close.rec');
        writeFileSync(closeFile, recordFile([
            frame({ kind: KIND.close, gateway: 'gw-probe', session: goodSid }),
        ]));
        const closer = tap(['--replay', closeFile, '--send', stack.busIn, '-q'],
                           tapEnv(keys.tap));
        taps.push(closer);
        await waitFor(async () =>
            (await stack.redis.call('EXISTS', `{megle}:s:${goodSid}`)) === 0,
        { timeout: 10000, what: 'the probe session closed' });
    });

    test('an unauthorised SUB receives nothing while authorised traffic flows', async () => {
        const good = tap(['--pub', stack.busOut, '--json'], tapEnv(keys.tap));
        const goodTap = tap(['--tap', keys.tapEndpoint, '--json'], tapEnv(keys.tap));
        const roguePub = tap(['--pub', stack.busOut, '--json'], tapEnv(keys.rogue));
        const rogueTap = tap(['--tap', keys.tapEndpoint, '--json'], tapEnv(keys.rogue));
        //  Without CURVE at all: the handshake's mechanism does not match.
        const plain = tap(['--pub', stack.busOut, '--json'], { MEGLE_CURVE: '0' });
        taps.push(good, goodTap, roguePub, rogueTap, plain);
        for (const t of [roguePub, rogueTap]) {
            await waitFor(() => t.err.some((l) => /refused the handshake/.test(l)),
                          { timeout: 10000, what: 'the rogue SUB refused' });
        }
        //  Authorised subscribers see the pulses, then a relayed signal.
        await waitFor(() => good.frames().some((f) => f.kind === 'pulse'),
                      { timeout: 10000, what: 'pulses on the authorised SUB' });
        await waitFor(() => matcherLines(/tap: subscriber attached/).length > 0,
                      { timeout: 10000, what: 'the authorised tap subscribed' });
        const { x, y } = await stack.pair('gw-a', 'gw-b');
        x.signal(y.id, 'candidate', { secret: 'sdp-of-x' });
        await y.next('signal');
        await waitFor(() => good.frames().some((f) => f.kind === 'deliver' && f.session === y.id)
                      && goodTap.frames().some((f) => f.kind === 'signal'),
        { timeout: 10000, what: 'the relayed signal on the authorised SUB and tap' });
        for (const t of [roguePub, rogueTap, plain]) {
            assert.equal(t.exited, null, `${t.err.join('\n')}`);
            assert.deepEqual(t.out, [], 'an unauthorised subscriber received frames');
        }
    });
});
