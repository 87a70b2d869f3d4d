//  experience - the stranger experience of issue 3 at the WebSocket level,
//  against real processes (redis-server, megle-matcher, gateways gw-a and
//  gw-b): text chat and the typing indicator, text-only mode, interests
//  (a shared one first, a random stranger after MEGLE_INTEREST_WAIT_MS,
//  Go-megle's tag as one interest), no immediate re-match, and the online
//  count. Every wait is for a condition with a deadline; "nothing else
//  arrived" is checked after a barrier (a message the partner must get
//  next, so everything published before it has arrived).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { startStack, guarded, waitFor } from '../lib/stack.mjs';

const INTEREST_WAIT_MS = 1500;
const CHAT_MAX = 2000;

let stack;
const test = (name, fn, timeout = 60000) =>
    it(name, { timeout }, guarded(() => stack, fn));

//  find_match with data; resolves with the first waiting or match_found.
async function find(c, data = {}) {
    c.send('find_match', data);
    return c.next(['waiting', 'match_found']);
}

//  x waits, then y finds: the two must be matched together. Returns the
//  two match_found messages.
async function meet(x, y, dx = {}, dy = {}) {
    assert.equal((await find(x, dx)).event, 'waiting');
    const my = await find(y, dy);
    assert.equal(my.event, 'match_found', my.raw);
    const mx = await x.next('match_found');
    assert.equal(mx.data.partner_id, y.id);
    assert.equal(my.data.partner_id, x.id);
    x.partner = y.id;
    y.partner = x.id;
    return { mx, my };
}

//  Barrier: `from` chats a random mark to its partner `to`; once `to` has
//  it, everything published to `to` before it has arrived (one PUB, one
//  SUB, in order).
async function barrier(from, to) {
    const mark = `barrier ${randomBytes(8).toString('hex')}`;
    from.send('chat', { text: mark });
    const m = await to.next((x) => x.event === 'chat' && x.data.text === mark);
    assert.equal(m.data.from, from.id);
    //  nothing arrived after it (but the online count, any time)
    assert.equal(to.log.filter((x) => x.event !== 'online').pop(), m);
}

function assertNothingPending(c, what = '') {
    assert.deepEqual(c.pending().map((m) => m.raw), [],
                     `${c.name()} received unexpected messages ${what}`);
}

describe('experience: chat, modes, interests, re-match, online', () => {
    before(async () => {
        stack = await startStack({
            gateways: ['gw-a', 'gw-b'],
            matcherEnv: { MEGLE_INTEREST_WAIT_MS: String(INTEREST_WAIT_MS) },
        });
    });
    after(async () => {
        if (stack) await stack.stop();
    });

    test('1. chat: exactly once, in order, only to the partner; typing relayed', async () => {
        const a = await stack.client('gw-a');
        const b = await stack.client('gw-b');
        const c = await stack.client('gw-a');
        const d = await stack.client('gw-b');
        await meet(a, b);
        await meet(c, d);

        const texts = [];
        for (let i = 0; i < 50; i++) texts.push(`message ${i} \u00e9\u{1F600} "quoted" \\ \n`);
        for (const text of texts) a.send('chat', { text });
        a.send('typing', { typing: true });
        a.send('typing', { typing: false });
        await barrier(a, b);
        //  b got each message once, in order, from a; then the two typing
        //  flags
        const got = b.log.filter((m) => m.event === 'chat' && !m.data.text.startsWith('barrier'));
        assert.deepEqual(got.map((m) => m.data), texts.map((text) => ({ from: a.id, text })));
        const typing = b.log.filter((m) => m.event === 'typing');
        assert.deepEqual(typing.map((m) => m.data),
                         [{ from: a.id, typing: true }, { from: a.id, typing: false }]);
        b.drop((m) => m.event === 'chat' || m.event === 'typing');
        assertNothingPending(b);
        //  and back
        b.send('chat', { text: 'hi back' });
        assert.deepEqual((await a.next('chat')).data, { from: b.id, text: 'hi back' });
        //  c and d, matched meanwhile, heard none of it
        await barrier(c, d);
        await barrier(d, c);
        assertNothingPending(c);
        assertNothingPending(d);
        for (const x of [c, d]) {
            assert.equal(x.log.filter((m) => m.event === 'chat' &&
                                      !m.data.text.startsWith('barrier')).length, 0);
            assert.equal(x.events('typing').length, 0);
        }
        assertNothingPending(a);
    });

    test('2. chat never reaches a later match; chat or typing without a partner is not_matched', async () => {
        const a = await stack.client('gw-a');
        const b = await stack.client('gw-b');
        //  idle: not matched
        a.send('chat', { text: 'anyone?' });
        await a.nextError('not_matched');
        a.send('typing', { typing: true });
        await a.nextError('not_matched');
        //  waiting: still not matched
        assert.equal((await find(a)).event, 'waiting');
        a.send('chat', { text: 'anyone?' });
        await a.nextError('not_matched');

        const b1 = await find(b);
        assert.equal(b1.event, 'match_found');
        const m1 = (await a.next('match_found')).data.match_id;
        //  a chats in match 1, leaves, chats once more (no partner now),
        //  and searches again: all in one burst
        for (let i = 0; i < 10; i++) a.send('chat', { text: `m1-${i}` });
        a.send('leave', {});
        a.send('chat', { text: 'late' });
        a.send('find_match', {});
        await a.nextError('not_matched');
        assert.equal((await a.next('waiting')).event, 'waiting');
        assert.deepEqual((await b.next('partner_left')).data, { from: a.id });
        //  b searches: only a waits (a recent partner, but alone), so the
        //  two meet again in match 2
        const b2 = await find(b);
        assert.equal(b2.event, 'match_found');
        assert.equal(b2.data.partner_id, a.id);
        assert.notEqual(b2.data.match_id, m1);
        await a.next('match_found');
        a.send('chat', { text: 'm2-0' });
        await barrier(a, b);
        //  b saw m1-0..9 inside match 1 (before partner_left), never
        //  'late', and m2-0 inside match 2
        const seq = b.log.filter((m) => ['chat', 'partner_left', 'match_found'].includes(m.event))
            .map((m) => (m.event === 'chat' ? m.data.text : m.event))
            .filter((t) => !t.startsWith('barrier'));
        assert.deepEqual(seq, ['match_found', ...Array.from({ length: 10 }, (_, i) => `m1-${i}`),
                               'partner_left', 'match_found', 'm2-0']);
        b.drop((m) => m.event === 'chat');
        assertNothingPending(b);
        assertNothingPending(a);
    });

    test('3. chat and typing are validated', async () => {
        const a = await stack.client('gw-a');
        const b = await stack.client('gw-b');
        await meet(a, b);
        a.send('chat', { text: 'x'.repeat(CHAT_MAX + 1) });
        await a.nextError('too_long');
        //  the limit counts bytes of UTF-8: 1000 two-byte characters fit
        a.send('chat', { text: '\u00e9'.repeat(CHAT_MAX / 2) });
        assert.equal((await b.next('chat')).data.text, '\u00e9'.repeat(CHAT_MAX / 2));
        a.send('chat', { text: '\u00e9'.repeat(CHAT_MAX / 2) + 'x' });
        await a.nextError('too_long');
        a.send('chat', { text: 'x'.repeat(CHAT_MAX) });
        assert.equal((await b.next('chat')).data.text.length, CHAT_MAX);
        for (const data of [{}, { text: '' }, { text: 42 }, { text: null }, { text: ['x'] }]) {
            a.send('chat', data);
            await a.nextError('bad_field');
        }
        for (const data of [{}, { typing: 'yes' }, { typing: 1 }, { typing: null }]) {
            a.send('typing', data);
            await a.nextError('bad_field');
        }
        //  the connection and the match still work
        a.send('typing', { typing: true });
        assert.deepEqual((await b.next('typing')).data, { from: a.id, typing: true });
        await barrier(a, b);
        assertNothingPending(a);
        assertNothingPending(b);
        const m = await stack.gw('gw-a').metrics();
        assert.ok(m['megle_gateway_errors_total{code="too_long"}'] >= 2);
        assert.ok(m['megle_gateway_messages_in_total{event="chat"}'] >= 3);
        assert.ok(m['megle_gateway_messages_in_total{event="typing"}'] >= 1);
        assert.ok(m['megle_gateway_messages_in_total{event="invalid"}'] >= 9);
        const mb = await stack.gw('gw-b').metrics();
        assert.ok(mb['megle_gateway_messages_out_total{event="chat"}'] >= 3);
    });

    test('4. text mode matches only text, video only video', async () => {
        const t1 = await stack.client('gw-a');
        const v1 = await stack.client('gw-b');
        const t2 = await stack.client('gw-b');
        const v2 = await stack.client('gw-a');
        assert.equal((await find(t1, { mode: 'text' })).event, 'waiting');
        assert.equal((await find(v1, { mode: 'video' })).event, 'waiting');
        const mt = await find(t2, { mode: 'text' });
        assert.equal(mt.event, 'match_found');
        assert.equal(mt.data.partner_id, t1.id);
        assert.equal(mt.data.mode, 'text');
        assert.deepEqual(mt.data.interests, []);
        assert.equal((await t1.next('match_found')).data.mode, 'text');
        //  Go-megle's find_match {} is video
        const mv = await find(v2);
        assert.equal(mv.data.partner_id, v1.id);
        assert.equal(mv.data.mode, 'video');
        assert.equal((await v1.next('match_found')).data.mode, 'video');
        //  a bad mode is refused
        const x = await stack.client('gw-a');
        x.send('find_match', { mode: 'audio' });
        await x.nextError('bad_field');
    });

    test('5. a shared interest wins; without one, a random stranger only after the wait', async () => {
        const r = await stack.client('gw-a');       //  no interests
        const i1 = await stack.client('gw-b');
        const i2 = await stack.client('gw-a');
        const i3 = await stack.client('gw-b');
        assert.equal((await find(r)).event, 'waiting');
        //  i1 waits for music, though r waits at random
        assert.equal((await find(i1, { interests: ['Music'] })).event, 'waiting');
        //  i2 shares music with i1: matched at once, told what they share
        const m2 = await find(i2, { interests: ['chess', ' MUSIC '] });
        assert.equal(m2.event, 'match_found');
        assert.equal(m2.data.partner_id, i1.id);
        assert.deepEqual(m2.data.interests, ['music']);
        assert.deepEqual((await i1.next('match_found')).data.interests, ['music']);
        //  i3 shares nothing with anyone waiting: it waits for its wait to
        //  end, then meets the random stranger r
        const t0 = Date.now();
        assert.equal((await find(i3, { interests: ['knitting'] })).event, 'waiting');
        const m3 = await i3.next('match_found', { timeout: INTEREST_WAIT_MS + 5000 });
        const took = m3.at - t0;
        process.stderr.write(`# relaxed after ${took} ms (wait ${INTEREST_WAIT_MS})\n`);
        assert.ok(took >= INTEREST_WAIT_MS - 100, `matched after ${took} ms, before the wait ended`);
        assert.ok(took <= INTEREST_WAIT_MS + 2000, `matched only after ${took} ms`);
        assert.equal(m3.data.partner_id, r.id);
        assert.deepEqual(m3.data.interests, []);
        assert.equal(m3.data.initiator, true); //  the relaxed side offers
        const mr = await r.next('match_found');
        assert.equal(mr.data.partner_id, i3.id);
        assert.deepEqual(mr.data.interests, []);
        //  nothing is left in any queue
        await waitFor(async () => (await stack.queueKeys()).length === 0,
                      { what: 'no queue keys' });
        //  bad interests are refused
        const x = await stack.client('gw-a');
        x.send('find_match', { interests: ['x'.repeat(33)] });
        await x.nextError('bad_field');
        x.send('find_match', { interests: Array.from({ length: 11 }, (_, i) => `i${i}`) });
        await x.nextError('bad_field');
        x.send('find_match', { interests: 'music' });
        await x.nextError('bad_field');
    });

    test('6. Go-megle tag is one interest, without the wait', async () => {
        const r = await stack.client('gw-a');
        const t = await stack.client('gw-b');
        const g1 = await stack.client('gw-a');
        const g2 = await stack.client('gw-b');
        assert.equal((await find(r)).event, 'waiting');
        assert.equal((await find(t, { interests: ['music'] })).event, 'waiting');
        //  the tag's sharer wins over the random stranger
        const m1 = await find(g1, { tag: 'Music' });
        assert.equal(m1.event, 'match_found');
        assert.equal(m1.data.partner_id, t.id);
        assert.deepEqual(m1.data.interests, ['music']);
        await t.next('match_found');
        //  a tag nobody shares: the random stranger at once
        const m2 = await find(g2, { tag: 'zzz' });
        assert.equal(m2.event, 'match_found');
        assert.equal(m2.data.partner_id, r.id);
        assert.deepEqual(m2.data.interests, []);
        await r.next('match_found');
    });

    test('8. online count: in welcome, pushed on changes, at most once a second', async () => {
        //  every earlier client is closed (guarded); count what is left
        const o1 = await stack.client('gw-a', { online: true });
        assert.equal(typeof o1.welcomeOnline, 'number');
        assert.ok(o1.welcomeOnline >= 1, 'welcome counts the newcomer');
        const first = await o1.next('online');
        assert.equal(typeof first.data.count, 'number');
        await waitFor(() => o1.online === 1, { what: 'online 1', timeout: 5000 });
        const o2 = await stack.client('gw-b', { online: true });
        await waitFor(() => o1.online === 2, { what: 'o1 sees o2 (other gateway)' });
        await waitFor(() => o2.online === 2, { what: 'o2 sees 2' });
        const o3 = await stack.client('gw-a');
        assert.equal(o3.welcomeOnline, 3);
        await waitFor(() => o1.online === 3 && o2.online === 3, { what: 'both see 3' });
        await o3.close();
        await waitFor(() => o1.online === 2 && o2.online === 2, { what: 'both see 2' });

        //  a burst of arrivals and departures on gw-a: o1 hears at most one
        //  online event a second, and the count settles right
        const from = o1.log.length;
        const burst = [];
        for (let i = 0; i < 6; i++) burst.push(await stack.client('gw-a'));
        await waitFor(() => o1.online === 8, { what: 'o1 sees 8' });
        for (const c of burst) await c.close();
        await waitFor(() => o1.online === 2, { what: 'o1 sees 2 again' });
        const times = o1.log.slice(from).filter((m) => m.event === 'online').map((m) => m.at);
        for (let i = 1; i < times.length; i++) {
            assert.ok(times[i] - times[i - 1] >= 900,
                      `online events ${times[i] - times[i - 1]} ms apart`);
        }
        assert.ok(times.length >= 2);
        const m = await stack.gw('gw-a').metrics();
        assert.ok(m['megle_gateway_messages_out_total{event="online"}'] >= 3);
    });

    test('9. a newcomer told a count the others were not is corrected, even when the count goes back', async () => {
        //  One gateway, nobody elsewhere: the matcher's total only echoes
        //  gw-a's own heartbeats, so the count is gw-a's live sessions.
        const base = await stack.client('gw-a', { online: true });
        await waitFor(() => base.online === 1, { what: 'base sees 1' });
        //  Let the once-a-second limit run out: no online event for 1.2 s.
        const lastAt = () => base.log.filter((m) => m.event === 'online').pop().at;
        await waitFor(() => Date.now() - lastAt() > 1200,
                      { what: 'a second without online events', timeout: 10000 });
        //  c1 arrives: pushed to everyone at once (2). Within the second,
        //  c2 arrives (its welcome says 3) and c1 leaves: back to 2, the
        //  count everyone else was last pushed. c2 must still hear 2.
        const c1 = await stack.client('gw-a');
        await waitFor(() => base.online === 2, { what: 'base sees 2', timeout: 900 });
        const c2 = await stack.client('gw-a', { online: true });
        await c1.close();
        assert.equal(c2.welcomeOnline, 3);
        await waitFor(() => c2.online === 2, { what: 'c2 corrected to 2', timeout: 3000 });
        assert.equal(base.online, 2);
    });
});

//  Re-matching needs interest waits that do not end during the test (the
//  default 10 s), so it runs on a stack of its own.
describe('experience: no immediate re-match', () => {
    let stack2;
    const test2 = (name, fn, timeout = 60000) =>
        it(name, { timeout }, guarded(() => stack2, fn));
    before(async () => {
        stack2 = await startStack({ gateways: ['gw-a', 'gw-b'] });
    });
    after(async () => {
        if (stack2) await stack2.stop();
    });

    test2('7. no immediate re-match while someone else waits; alone, the two meet again', async () => {
        const a = await stack2.client('gw-a');
        const b = await stack2.client('gw-b');
        const c = await stack2.client('gw-b');
        //  a and b share x; a skips b (Next: leave, find_match)
        const { mx } = await meet(b, a, { interests: ['x'] }, { interests: ['x', 'y'] });
        assert.deepEqual(mx.data.interests, ['x']);
        a.send('leave', {});
        await b.next('partner_left');
        //  b waits for x again, c waits for y; a (x first) gets c, not b
        assert.equal((await find(b, { interests: ['x'] })).event, 'waiting');
        assert.equal((await find(c, { interests: ['y'] })).event, 'waiting');
        const m = await find(a, { interests: ['x', 'y'] });
        assert.equal(m.event, 'match_found');
        assert.equal(m.data.partner_id, c.id, 'a was matched again with b, whom it just skipped');
        assert.deepEqual(m.data.interests, ['y']);
        await c.next('match_found');
        //  a and c part; b still waits: a, alone with b, meets b again
        a.send('leave', {});
        await c.next('partner_left');
        await c.close();
        const again = await find(a, { interests: ['x'] });
        assert.equal(again.event, 'match_found');
        assert.equal(again.data.partner_id, b.id);
        await b.next('match_found');

        //  without interests: a skips d; with nobody else around, the two
        //  meet again at once
        const d = await stack2.client('gw-a');
        const e = await stack2.client('gw-b');
        await meet(d, e);
        d.send('leave', {});
        assert.equal((await find(d)).event, 'waiting');
        await e.next('partner_left');
        const de = await find(e);
        assert.equal(de.event, 'match_found');
        assert.equal(de.data.partner_id, d.id);
    });
});
