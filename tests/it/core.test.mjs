//  core - the client protocol end to end against real processes: one
//  redis-server, one megle-matcher, gateways gw-a and gw-b (plus gw-1 and
//  gw-10 for the topic-prefix test), real WebSocket clients.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { startStack, guarded, waitFor } from '../lib/stack.mjs';
import { rawPayload } from '../lib/client.mjs';

const HEX32 = /^[0-9a-f]{32}$/;
const MAX_MESSAGE = 65536;

let stack;
const test = (name, fn, timeout = 60000) =>
    it(name, { timeout }, guarded(() => stack, fn));

//  Barrier: from sends a signal to its partner to, which must be the next
//  signal `to` receives. Everything the matcher published to `to` before
//  it processed this signal has arrived by then (one PUB, one SUB, in
//  order), so afterwards to.pending() shows whatever else came.
async function barrier(from, to) {
    const mark = randomBytes(8).toString('hex');
    from.signal(to.id, 'candidate', { barrier: mark });
    const m = await to.next('signal');
    assert.equal(m.data.sender_id, from.id);
    assert.deepEqual(m.data.payload, { barrier: mark },
                     `expected barrier signal, got ${m.raw.slice(0, 300)}`);
}

function assertNothingPending(c, what = '') {
    assert.deepEqual(c.pending().map((m) => m.raw), [],
                     `${c.name()} received unexpected messages ${what}`);
}

describe('core: one matcher, gateways gw-a and gw-b', () => {
    before(async () => {
        stack = await startStack({
            gateways: ['gw-a', 'gw-b'],
            gatewayEnv: { MEGLE_MAX_MESSAGE: String(MAX_MESSAGE) },
        });
    });
    after(async () => {
        if (stack) await stack.stop();
    });

    test('1. match across gateways', async () => {
        const a = await stack.client('gw-a');
        const b = await stack.client('gw-b');
        assert.match(a.id, HEX32);
        assert.match(b.id, HEX32);
        assert.notEqual(a.id, b.id);

        a.send('find_match');
        const w = await a.next('waiting');
        assert.equal(typeof w.data.message, 'string');
        b.send('find_match');
        const mb = await b.next('match_found');
        const ma = await a.next('match_found');

        assert.equal(ma.data.partner_id, b.id);
        assert.equal(mb.data.partner_id, a.id);
        assert.match(ma.data.match_id, HEX32);
        assert.equal(ma.data.match_id, mb.data.match_id);
        assert.equal(typeof ma.data.initiator, 'boolean');
        assert.equal(typeof mb.data.initiator, 'boolean');
        assert.notEqual(ma.data.initiator, mb.data.initiator,
                        'exactly one side must be the initiator');
        //  b never got a waiting; nothing else arrived at either side.
        await barrier(a, b);
        await barrier(b, a);
        assertNothingPending(a);
        assertNothingPending(b);
        assert.equal(b.events('waiting').length, 0);

        //  Redis agrees: both sessions matched and pointing at each other.
        const sa = await stack.redis.hgetall(`{megle}:s:${a.id}`);
        const sb = await stack.redis.hgetall(`{megle}:s:${b.id}`);
        assert.equal(sa.state, 'matched');
        assert.equal(sb.state, 'matched');
        assert.equal(sa.partner, b.id);
        assert.equal(sb.partner, a.id);
        assert.equal(sa.gw, 'gw-a');
        assert.equal(sb.gw, 'gw-b');
        assert.equal(sa.match, ma.data.match_id);
        const m = await stack.redis.hgetall(`{megle}:m:${ma.data.match_id}`);
        assert.deepEqual([m.a, m.b].sort(), [a.id, b.id].sort());
        const ttl = await stack.redis.call('TTL', `{megle}:m:${ma.data.match_id}`);
        assert.ok(ttl > 0 && ttl <= 600, `match TTL ${ttl}`);
    });

    test('2. relay offer/answer/candidates both ways, exactly once, in order, byte-for-byte', async () => {
        const { x, y, mx } = await stack.pair('gw-a', 'gw-b');
        const [init, resp] = mx.data.initiator ? [x, y] : [y, x];

        //  Odd but valid JSON: whitespace, \u escapes (also a NUL and a
        //  surrogate pair), "\/", exponent, -0, nesting, raw UTF-8.
        const offer = '{ "type" :\t"offer" ,\n  "sdp" : "v=0\\r\\no=- 46117 2 IN IP4 127.0.0.1\\r\\n" ,' +
            ' "esc": "\\u00e9\\u0000\\ud83d\\ude00 \\/ \\" \\\\" , "num" : 1.0e+2, "neg": -0.0,' +
            ' "nested": {"a" : [ 1 , 2 ,{ "b" : null } ], "t":true , "f" :false} ,' +
            ' "utf8": "é漢😀"   }';
        let sdp = 'v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n';
        for (let i = 0; sdp.length < 60 * 1024; i++) {
            sdp += `a=candidate:${i} 1 udp 2122260223 192.0.2.${i % 250} ${50000 + i} typ host generation 0\\r\\n`;
        }
        const answer = `{"type":"answer","sdp":"${sdp}"}`;
        assert.ok(answer.length > 60 * 1024 && answer.length < MAX_MESSAGE - 200);

        init.signalRaw(resp.id, 'offer', offer);
        const o = await resp.next('signal');
        assert.equal(o.data.sender_id, init.id);
        assert.equal(o.data.type, 'offer');
        assert.equal(rawPayload(o), offer, 'offer payload changed in transit');

        resp.signalRaw(init.id, 'answer', answer);
        const an = await init.next('signal');
        assert.equal(an.data.sender_id, resp.id);
        assert.equal(an.data.type, 'answer');
        assert.equal(rawPayload(an), answer, 'answer payload changed in transit');

        //  50 numbered candidates each way, sent back to back both ways.
        const cand = (from, i) =>
            `{"candidate":"candidate:${i} 1 udp 2122260223 127.0.0.1 ${40000 + i} typ host",` +
            ` "sdpMid":"0","sdpMLineIndex":0, "usernameFragment":"${from.id.slice(0, 4)}", "seq":${i}}`;
        for (let i = 0; i < 50; i++) {
            init.signalRaw(resp.id, 'candidate', cand(init, i));
            resp.signalRaw(init.id, 'candidate', cand(resp, i));
        }
        for (const [from, to] of [[init, resp], [resp, init]]) {
            for (let i = 0; i < 50; i++) {
                const m = await to.next('signal');
                assert.equal(m.data.sender_id, from.id);
                assert.equal(m.data.type, 'candidate');
                assert.equal(rawPayload(m), cand(from, i),
                             `candidate ${i} from ${from.name()} out of order or changed`);
            }
        }
        //  Other JSON values are payloads too.
        for (const p of ['"just a string"', '42', '[ 1, "2", {"3" : 4} ]', 'null', '{}', '-1.5E-3']) {
            init.signalRaw(resp.id, 'candidate', p);
            const m = await resp.next('signal');
            assert.equal(rawPayload(m), p);
        }
        //  A message in three WebSocket fragments is one signal.
        const frag = `{"candidate":"fragmented ${'x'.repeat(3000)}","sdpMid":"0"}`;
        const whole = `{"event":"signal","data":{"target_id":"${resp.id}","type":"candidate","payload":${frag}}}`;
        const cut1 = 1000;
        const cut2 = 2500;
        init.sendRaw(whole.slice(0, cut1), { fin: false });
        init.sendRaw(whole.slice(cut1, cut2), { fin: false });
        init.sendRaw(whole.slice(cut2), { fin: true });
        const fm = await resp.next('signal');
        assert.equal(rawPayload(fm), frag);

        //  Exactly once: nothing duplicated or left over on either side.
        await barrier(init, resp);
        await barrier(resp, init);
        assertNothingPending(init);
        assertNothingPending(resp);
        assert.equal(resp.events('signal').length, 1 + 50 + 6 + 1 + 1);
        assert.equal(init.events('signal').length, 1 + 50 + 1);
        assert.equal(init.events('error').length + resp.events('error').length, 0);
    });

    test('3. a target_id that is not the partner is refused and delivered nowhere', async () => {
        const { x: a, y: b } = await stack.pair('gw-a', 'gw-b');
        const { x: c, y: d } = await stack.pair('gw-b', 'gw-a');

        c.signal(a.id, 'offer', { type: 'offer', sdp: 'v=0 spoofed' });
        const e1 = await c.nextError('not_partner');
        assert.equal(typeof e1.data.message, 'string');
        c.signal(randomBytes(16).toString('hex'), 'candidate', { spoof: 2 });
        await c.nextError('not_partner');
        c.signal(c.id, 'candidate', { spoof: 3 });  //  itself
        await c.nextError('not_partner');
        c.send('leave', { target_id: a.id });        //  leave naming a stranger
        await c.nextError('not_partner');

        //  Barriers: a, b and d see only their partners' barrier signals;
        //  the match c-d was not ended by the refused leave.
        await barrier(b, a);
        await barrier(a, b);
        await barrier(d, c);
        await barrier(c, d);
        for (const k of [a, b, c, d]) assertNothingPending(k);
        assert.equal(a.events('signal').length, 1);
        assert.equal(d.events('signal').length, 1);

        //  Idle: a signal without a partner is not_matched.
        const idle = await stack.client('gw-a');
        idle.signal(a.id, 'offer', { type: 'offer' });
        await idle.nextError('not_matched');
        idle.send('leave', {});
        await idle.nextError('not_matched');
        await barrier(b, a);
        assertNothingPending(a);
    });

    test('4. leave notifies the partner across gateways; both can match again', async () => {
        const { x: a, y: b } = await stack.pair('gw-a', 'gw-b');
        a.send('leave', { target_id: b.id });
        const pl = await b.next('partner_left');
        assert.deepEqual(pl.data, { from: a.id });
        assert.equal(a.events('partner_left').length, 0);

        //  Both idle now: a signal is refused.
        b.signal(a.id, 'candidate', { late: true });
        const e = await b.next('error');
        assert.ok(['not_partner', 'not_matched'].includes(e.data.code), e.raw);

        //  They meet again (alone in the queue).
        a.send('find_match');
        await a.next('waiting');
        b.send('find_match');
        const mb = await b.next('match_found');
        const ma = await a.next('match_found');
        assert.equal(ma.data.partner_id, b.id);
        assert.equal(mb.data.partner_id, a.id);
        assert.equal(ma.data.match_id, mb.data.match_id);
        const first = a.events('match_found')[0].data.match_id;
        assert.notEqual(ma.data.match_id, first, 'a new match gets a new id');

        //  leave without target_id ends the current match too.
        b.send('leave', {});
        assert.deepEqual((await a.next('partner_left')).data, { from: b.id });
        //  ... and leaving while waiting leaves the queue.
        a.send('find_match');
        await a.next('waiting');
        await waitFor(async () => (await stack.redis.call('SISMEMBER', '{megle}:q:video', a.id)) === 1,
                      { what: 'a queued' });
        a.send('leave', {});
        await waitFor(async () => (await stack.redis.call('SCARD', '{megle}:q:video')) === 0,
                      { what: 'a left the queue' });
        const n = await stack.client('gw-b');
        n.send('find_match');
        await n.next('waiting');
        assertNothingPending(a);
        assertNothingPending(b);
    });

    test('5. closing notifies the partner; a closed waiting session is never matched', async () => {
        const { x: a, y: b } = await stack.pair('gw-a', 'gw-b');
        await a.close();
        assert.deepEqual((await b.next('partner_left')).data, { from: a.id });
        stack.clients.delete(a);

        //  Abrupt TCP close (no close handshake) counts too.
        const { x: c, y: d } = await stack.pair('gw-b', 'gw-a');
        await d.terminate();
        assert.deepEqual((await c.next('partner_left')).data, { from: d.id });

        //  Same gateway: q's close and r's find_match pass through the same
        //  bus socket in that order, so r must find nobody.
        const q = await stack.client('gw-a');
        q.send('find_match');
        await q.next('waiting');
        await q.close();
        const r = await stack.client('gw-a');
        r.send('find_match');
        const rr = await r.next(['waiting', 'match_found']);
        assert.equal(rr.event, 'waiting', `r matched with a ghost: ${rr.raw}`);

        //  Other gateway: once the matcher removed q2, r2 finds nobody...
        const q2 = await stack.client('gw-a');
        r.send('leave', {});
        await waitFor(async () => (await stack.redis.call('SCARD', '{megle}:q:video')) === 0,
                      { what: 'r left the queue' });
        q2.send('find_match');
        await q2.next('waiting');
        await q2.terminate();
        await waitFor(async () =>
            (await stack.redis.call('SISMEMBER', '{megle}:q:video', q2.id)) === 0,
        { what: 'q2 removed from {megle}:q:video' });
        const r2 = await stack.client('gw-b');
        r2.send('find_match');
        const rr2 = await r2.next(['waiting', 'match_found']);
        assert.equal(rr2.event, 'waiting', `r2 matched with a ghost: ${rr2.raw}`);
        //  ... and is really queued: the next one meets r2.
        const s = await stack.client('gw-a');
        s.send('find_match');
        assert.equal((await s.next('match_found')).data.partner_id, r2.id);
        assert.equal((await r2.next('match_found')).data.partner_id, s.id);

        //  Redis forgot the closed sessions (session hash and gw set).
        for (const gone of [a, d, q, q2]) {
            await waitFor(async () =>
                (await stack.redis.call('EXISTS', `{megle}:s:${gone.id}`)) === 0 &&
                (await stack.redis.call('SISMEMBER', `{megle}:gw:${gone.gateway}`, gone.id)) === 0,
            { what: `session ${gone.id} removed from Redis` });
        }
    });

    test('6. double find_match never queues twice nor matches twice; find_match while matched', async () => {
        //  Alone: two find_match in a row -> waiting (again), queued once.
        const x = await stack.client('gw-a');
        x.send('find_match');
        x.send('find_match');
        const r1 = await x.next(['waiting', 'match_found']);
        const r2 = await x.next(['waiting', 'match_found', 'error']);
        assert.equal(r1.event, 'waiting');
        assert.equal(r2.event, 'waiting', `second find_match while waiting: ${r2.raw}`);
        assert.equal(await stack.redis.call('SCARD', '{megle}:q:video'), 1);
        assert.deepEqual(await stack.redis.call('SMEMBERS', '{megle}:q:video'), [x.id]);

        const y = await stack.client('gw-b');
        y.send('find_match');
        assert.equal((await y.next('match_found')).data.partner_id, x.id);
        assert.equal((await x.next('match_found')).data.partner_id, y.id);
        await barrier(y, x);
        await barrier(x, y);
        assertNothingPending(x);
        assertNothingPending(y);
        assert.equal(x.events('match_found').length, 1);
        assert.equal(await stack.redis.call('SCARD', '{megle}:q:video'), 0);

        //  With a partner waiting: two find_match -> one match_found and
        //  already_matched; the waiting side gets one match_found.
        const p = await stack.client('gw-b');
        p.send('find_match');
        await p.next('waiting');
        const z = await stack.client('gw-a');
        z.send('find_match');
        z.send('find_match');
        assert.equal((await z.next('match_found')).data.partner_id, p.id);
        await z.nextError('already_matched');
        assert.equal((await p.next('match_found')).data.partner_id, z.id);
        await barrier(z, p);
        await barrier(p, z);
        assertNothingPending(z);
        assertNothingPending(p);
        assert.equal(z.events('match_found').length, 1);
        assert.equal(p.events('match_found').length, 1);
        assert.equal(await stack.redis.call('SCARD', '{megle}:q:video'), 0);

        //  Matched: find_match is already_matched and changes nothing.
        x.send('find_match');
        await x.nextError('already_matched');
        await barrier(y, x);
        assertNothingPending(y);
        assert.equal(await stack.redis.call('SCARD', '{megle}:q:video'), 0);
    });

    test('7. malformed input gets errors; the connection and others keep working', async () => {
        const m = await stack.client('gw-a');
        const other = await stack.pair('gw-a', 'gw-b');
        const ghost = randomBytes(16).toString('hex');
        const cases = [
            ['not json {', 'bad_json'],
            ['{"event":"find_match","data":{}', 'bad_json'],
            [Buffer.from('{"event":"find_match","data":{"tag":"\xff\xfe"}}', 'latin1'), 'bad_json'],
            ['{"event":1}', 'bad_envelope'],
            ['{"event":1,"data":{}}', 'bad_envelope'],
            ['{"event":"find_match","data":[]}', 'bad_envelope'],
            ['[]', 'bad_envelope'],
            ['"find_match"', 'bad_envelope'],
            ['{"event":"dance","data":{}}', 'unknown_event'],
            [`{"event":"signal","data":{"target_id":"${ghost}","payload":{}}}`, 'bad_field'],
            [`{"event":"signal","data":{"target_id":"${ghost}","type":"bogus","payload":{}}}`, 'bad_field'],
            ['{"event":"signal","data":{"target_id":42,"type":"offer","payload":{}}}', 'bad_field'],
            [`{"event":"signal","data":{"target_id":"${'a'.repeat(5000)}","type":"offer","payload":{}}}`, 'bad_field'],
        ];
        for (const [text, code] of cases) {
            m.sendRaw(text);
            const e = await m.next('error');
            assert.equal(e.data.code, code, `for ${String(text).slice(0, 80)}: ${e.raw}`);
            assert.equal(typeof e.data.message, 'string');
        }
        //  Larger than MEGLE_MAX_MESSAGE (otherwise valid: it would be a
        //  not_matched signal), whole and in fragments.
        const pad = (n) => {
            const head = `{"event":"signal","data":{"target_id":"${ghost}","type":"offer","payload":"`;
            const tail = '"}}';
            return head + 'x'.repeat(n - head.length - tail.length) + tail;
        };
        const big = pad(70000);
        assert.equal(big.length, 70000);
        m.sendRaw(big);
        await m.nextError('too_large');
        const big2 = pad(75000);
        for (let i = 0; i < 5; i++) {
            m.sendRaw(big2.slice(i * 15000, (i + 1) * 15000), { fin: i === 4 });
        }
        await m.nextError('too_large');
        //  Binary frames are refused.
        m.sendRaw(Buffer.from('{"event":"find_match","data":{}}'), { binary: true });
        await m.nextError('binary_unsupported');
        m.sendRaw(Buffer.from([0, 1, 2, 0xff]), { binary: true });
        await m.nextError('binary_unsupported');
        assert.equal(m.closeInfo, null, 'connection must stay open');

        //  The pair next door never noticed.
        await barrier(other.x, other.y);
        await barrier(other.y, other.x);
        assertNothingPending(other.x);
        assertNothingPending(other.y);
        other.x.send('leave', {});
        await other.y.next('partner_left');

        //  The same connection still matches and relays.
        m.send('find_match');
        await m.next('waiting');
        const n = await stack.client('gw-b');
        n.send('find_match');
        assert.equal((await n.next('match_found')).data.partner_id, m.id);
        assert.equal((await m.next('match_found')).data.partner_id, n.id);
        await barrier(m, n);
        await barrier(n, m);
        assertNothingPending(m);
        assertNothingPending(n);
        assert.equal(m.events('error').length, cases.length + 4);
    });

    test('8. a signal is never delivered into a later match', async () => {
        const { x: a, y: b } = await stack.pair('gw-a', 'gw-b');
        b.send('leave', { target_id: a.id });
        await a.next('partner_left');
        const c = await stack.client('gw-a');
        c.send('find_match');
        await c.next('waiting');
        b.send('find_match');
        assert.equal((await b.next('match_found')).data.partner_id, c.id);
        assert.equal((await c.next('match_found')).data.partner_id, b.id);

        a.signal(b.id, 'offer', { type: 'offer', sdp: 'stale' });
        const e = await a.next('error');
        assert.ok(['not_partner', 'not_matched'].includes(e.data.code), e.raw);
        await barrier(c, b);
        await barrier(b, c);
        assertNothingPending(b);
        assertNothingPending(c);
    });

    test('8b. signals racing a leave: each is delivered in the old match or refused, never later', async () => {
        for (let round = 0; round < 10; round++) {
            const { x: a, y: b } = await stack.pair('gw-a', 'gw-b');
            const c = await stack.client(round % 2 ? 'gw-a' : 'gw-b');
            c.send('find_match');
            await c.next('waiting');
            const N = 20;
            for (let i = 0; i < N; i++) a.signal(b.id, 'candidate', { race: round, i });
            b.send('leave', { target_id: a.id });
            b.send('find_match');
            await b.next('match_found');
            await c.next('match_found');
            //  Every one of a's signals is accounted for exactly once.
            const fromA = () => b.log.filter((m) => m.event === 'signal' &&
                                             m.data.sender_id === a.id);
            const refused = () => a.events('error');
            await waitFor(() => fromA().length + refused().length >= N,
                          { what: `round ${round}: all ${N} signals delivered or refused` });
            for (const e of refused()) {
                assert.ok(['not_partner', 'not_matched'].includes(e.data.code), e.raw);
            }
            //  Delivered ones came before b's new match, in order.
            const idx = b.log.findIndex((m) => m.event === 'match_found' &&
                                        m.data.partner_id === c.id);
            assert.ok(idx > 0);
            const late = b.log.slice(idx).filter((m) => m.event === 'signal' &&
                                                  m.data.sender_id === a.id);
            assert.deepEqual(late.map((m) => m.raw), [], 'signal crossed into the new match');
            assert.deepEqual(fromA().map((m) => m.data.payload.i),
                             [...Array(fromA().length).keys()]);
            //  (a's delivered signals are accounted for; clear b's queue)
            b.drop((m) => m.event === 'signal' && m.data.sender_id === a.id);
            await barrier(b, c);
            await barrier(c, b);
            assert.equal(c.log.filter((m) => m.event === 'signal' &&
                                       m.data.sender_id === a.id).length, 0);
            assert.equal(fromA().length + refused().length, N);
            await stack.closeClients();
        }
    }, 120000);

    test('9. topics gw-1 and gw-10 do not leak into each other', async () => {
        const g1 = await stack.addGateway('gw-1');
        const g10 = await stack.addGateway('gw-10');
        const metric = 'megle_gateway_bus_frames_in_total';
        const read = async (g) => {
            const all = await g.metrics();
            const keys = Object.keys(all).filter((k) => k === metric || k.startsWith(`${metric}{`));
            if (!keys.length) return null;
            return keys.reduce((s, k) => s + all[k], 0);
        };
        //  A pair inside gw-1, a pair inside gw-10, a pair across.
        const p1 = await stack.pair('gw-1', 'gw-1');
        const p10 = await stack.pair('gw-10', 'gw-10');
        const px = await stack.pair('gw-1', 'gw-10');
        const before1 = await read(g1);
        const before10 = await read(g10);

        const N = 300;
        for (let i = 0; i < N; i++) {
            p1.x.signal(p1.y.id, 'candidate', { i });
            p10.x.signal(p10.y.id, 'candidate', { i });
        }
        for (const p of [p1, p10]) {
            for (let i = 0; i < N; i++) {
                const m = await p.y.next('signal');
                assert.equal(m.data.sender_id, p.x.id);
                assert.equal(m.data.payload.i, i);
            }
        }
        px.x.signal(px.y.id, 'offer', { across: 1 });
        assert.equal((await px.y.next('signal')).data.payload.across, 1);
        px.y.signal(px.x.id, 'answer', { across: 2 });
        assert.equal((await px.x.next('signal')).data.payload.across, 2);
        for (const p of [p1, p10, px]) {
            await barrier(p.x, p.y);
            await barrier(p.y, p.x);
            assertNothingPending(p.x);
            assertNothingPending(p.y);
        }
        assert.equal(p1.y.events('signal').length, N + 1);
        assert.equal(p10.y.events('signal').length, N + 1);

        const after1 = await read(g1);
        const after10 = await read(g10);
        assert.notEqual(before1, null, `gateway /metrics has no ${metric}`);
        //  Each gateway received its own N + barriers, but not the other's
        //  N (heartbeat pulses at 200 ms add only a few frames).
        const d1 = after1 - before1;
        const d10 = after10 - before10;
        assert.ok(d1 >= N && d1 < 2 * N, `gw-1 received ${d1} frames`);
        assert.ok(d10 >= N && d10 < 2 * N, `gw-10 received ${d10} frames`);
        for (const g of [g1, g10]) {
            await g.proc.stop();
            stack.gateways.delete(g.id);
        }
    });
});
