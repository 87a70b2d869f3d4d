//  relay - bookkeeping for tests that relay numbered signals between
//  matched clients and check every one on arrival (it.routes, it.scale),
//  and the gateway's rendezvous pin, to know which matcher a session's
//  frames go to.

import assert from 'node:assert/strict';

import { waitFor } from './stack.mjs';

//  ---------------------------------------------------------------------
//  The gateway's rendezvous hash (gateway/matchers.c): FNV-1a 64 over
//  sid, 0xff, the matcher's bus_in, then the 64-bit finalizer; the
//  highest score wins.

const M64 = (1n << 64n) - 1n;
const PRIME = 0x100000001b3n;

function fnv(h, text) {
    for (const b of Buffer.from(text)) h = ((h ^ BigInt(b)) * PRIME) & M64;
    return h;
}

function score(sid, name) {
    let h = fnv(0xcbf29ce484222325n, sid);
    h = ((h ^ 0xffn) * PRIME) & M64;
    h = fnv(h, name);
    h ^= h >> 33n;
    h = (h * 0xff51afd7ed558ccdn) & M64;
    h ^= h >> 33n;
    h = (h * 0xc4ceb9fe1a85ec53n) & M64;
    h ^= h >> 33n;
    return h;
}

//  Index in busIns (the matchers' bus_in endpoints) of the matcher that
//  session sid is pinned to, among the live ones (indexes; default all).
export function pinOf(busIns, sid, live = busIns.map((_, i) => i)) {
    let best = -1;
    let bestScore = -1n;
    for (const i of live) {
        const s = score(sid, busIns[i]);
        if (s > bestScore) {
            best = i;
            bestScore = s;
        }
    }
    return best;
}

//  ---------------------------------------------------------------------
//  Signal bookkeeping.

//  Follow what client c is told: its partner and match (match_found,
//  partner_left), and check every signal and chat line it gets at once
//  against them: from the partner, addressed here, sent in this match,
//  in order (seq), never twice. c.got: sender id -> [{seq, sentAt, at}];
//  c.count: signals received; c.chats: chat lines; c.bad: violations.
export function track(c) {
    c.cur = { partner: null, match: null };
    c.got = new Map();
    c.count = 0;
    c.chats = 0;
    c.bad = [];
    c.matches = 0;
    c.seq = 0;
    const orig = c.onMessage.bind(c);
    c.onMessage = (buf, isBinary) => {
        orig(buf, isBinary);
        const m = c.log[c.log.length - 1];
        const who = c.id ? c.id.slice(0, 8) : '?';
        if (m.event === 'match_found') {
            c.matches++;
            c.cur = { partner: m.data.partner_id, match: m.data.match_id };
        } else if (m.event === 'partner_left') {
            c.cur = { partner: null, match: null };
        } else if (m.event === 'signal' || m.event === 'chat') {
            const p = m.event === 'signal' ? m.data.payload || {}
                : JSON.parse(m.data.text);
            const from = m.event === 'signal' ? m.data.sender_id : m.data.from;
            const why = from !== c.cur.partner ? 'not from the partner'
                : p.from !== from ? 'sender is not the author'
                    : p.to !== c.id ? 'not addressed here'
                        : p.match !== c.cur.match ? 'from another match' : null;
            if (why) c.bad.push(`${who}: ${why}: ${m.raw}`);
            const list = c.got.get(p.from) || [];
            const last = list.length ? list[list.length - 1].seq : 0;
            if (p.seq <= last) c.bad.push(`${who}: seq ${p.seq} after ${last} from ${p.from}`);
            list.push({ seq: p.seq, sentAt: p.t, at: m.at });
            c.got.set(p.from, list);
            if (m.event === 'chat') c.chats++;
            else c.count++;
        }
        //  Refusals after a skip (not_partner, not_matched) and a dead
        //  matcher's "unavailable" are expected; keep the queue small.
        c.queue = c.queue.filter((q) => !['signal', 'chat', 'error', 'typing'].includes(q.event));
    };
}

//  c sends its partner the next numbered signal (or, with chat, a chat
//  line carrying the same body), if it has a partner.
export function sendOne(c, chat = false) {
    if (!c.cur.partner || c.closeInfo) return;
    const body = { from: c.id, to: c.cur.partner, match: c.cur.match, seq: ++c.seq, t: Date.now() };
    if (chat) c.send('chat', { text: JSON.stringify(body) });
    else c.signal(c.cur.partner, 'candidate', body);
}

//  Clients sending numbered signals on a pace; stop() ends them all.
export function senders() {
    let timers = [];
    return {
        start(c, everyMs) {
            timers.push(setInterval(() => sendOne(c), everyMs));
        },
        stop() {
            for (const t of timers) clearInterval(t);
            timers = [];
        },
    };
}

//  A tracked client of the stack's gateway gw.
export async function tracked(stack, gw) {
    const c = await stack.client(gw);
    track(c);
    return c;
}

//  Tracked x waits, tracked y finds: matched together (needs an empty
//  queue).
export async function pairUp(x, y) {
    x.send('find_match');
    await x.next('waiting', { timeout: 10000 });
    y.send('find_match');
    await waitFor(() => x.cur.partner === y.id && y.cur.partner === x.id,
                  { timeout: 10000, what: 'pairUp: matched together' });
    assert.equal(x.cur.match, y.cur.match, 'pairUp: two different matches');
}

//  "Next" while the old partner keeps sending: tracked stranger c waits,
//  a (matched with b) leaves and finds at once and must meet c in a new
//  match; b is told partner_left.
export async function skipTo(a, b, c) {
    c.send('find_match');
    await c.next('waiting', { timeout: 10000 });
    const old = a.cur.match;
    a.send('leave', { target_id: b.id });
    a.send('find_match');
    await waitFor(() => a.cur.match && a.cur.match !== old,
                  { timeout: 10000, what: 'a re-matched' });
    assert.equal(a.cur.partner, c.id, 'a met the waiting stranger');
    await waitFor(() => c.cur.partner === a.id, { timeout: 10000, what: 'c matched' });
    await waitFor(() => b.cur.partner === null,
                  { timeout: 10000, what: 'b told partner_left' });
}
