//  client - a WebSocket test client for megle's /ws protocol (npm `ws`).
//
//  Every received message is kept twice: in `log` (everything, in order)
//  and in a queue that next() consumes. next(event) takes the first queued
//  message of that event and leaves the others queued, so a test can wait
//  for what it expects without losing what came in between; pending()
//  shows what is left, which is how tests assert that nothing else came.
//  Messages keep their raw text, so payloads can be compared byte-for-byte
//  (rawValue) instead of after a JSON round trip.
//
//  `online` events (the user count, pushed whenever it changes) arrive at
//  any time, so they stay out of the queue unless connect() is given
//  { online: true }: they are in `log`, the latest count in `online`, and
//  a waiter that asks for them (next('online')) still gets them.

import WebSocket from 'ws';

export class Client {
    constructor(ws, { online = false } = {}) {
        this.ws = ws;
        this.queueOnline = online;
        this.online = null;
        this.log = [];
        this.queue = [];
        this.waiters = [];
        this.id = null;
        this.closeInfo = null;
        this.closed = new Promise((resolve) => {
            ws.on('close', (code, reason) => {
                this.closeInfo = { code, reason: reason.toString('utf8') };
                const err = new Error(`connection closed (${code} ` +
                                      `${this.closeInfo.reason})`);
                for (const w of this.waiters.splice(0)) {
                    clearTimeout(w.timer);
                    w.reject(err);
                }
                resolve(this.closeInfo);
            });
        });
        ws.on('error', (err) => {
            this.error = err;
        });
        ws.on('message', (buf, isBinary) => this.onMessage(buf, isBinary));
    }

    onMessage(buf, isBinary) {
        const raw = buf.toString('utf8');
        let msg;
        try {
            const parsed = JSON.parse(raw);
            msg = { event: parsed.event, data: parsed.data, raw, binary: isBinary };
        } catch {
            msg = { event: null, data: null, raw, binary: isBinary, invalid: true };
        }
        msg.at = Date.now(); //  arrival time, ms
        this.log.push(msg);
        if (msg.event === 'online' && typeof msg.data?.count === 'number') {
            this.online = msg.data.count;
        }
        const i = this.waiters.findIndex((w) => w.match(msg));
        if (i >= 0) {
            const [w] = this.waiters.splice(i, 1);
            clearTimeout(w.timer);
            w.resolve(msg);
        } else if (msg.event !== 'online' || this.queueOnline) {
            this.queue.push(msg);
        }
    }

    //  The next message (of `event`: a name, a list of names or a
    //  predicate; any if omitted). Rejects after timeout ms.
    next(event, { timeout = 5000 } = {}) {
        const match = typeof event === 'function' ? event
            : Array.isArray(event) ? (m) => event.includes(m.event)
            : event ? (m) => m.event === event
            : () => true;
        const i = this.queue.findIndex(match);
        if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
        if (this.closeInfo) {
            return Promise.reject(new Error(
                `${this.name()}: waiting for ${event || 'a message'} on a ` +
                `closed connection (${this.closeInfo.code})`));
        }
        return new Promise((resolve, reject) => {
            const w = { match, resolve, reject };
            w.timer = setTimeout(() => {
                this.waiters.splice(this.waiters.indexOf(w), 1);
                reject(new Error(
                    `${this.name()}: no ${typeof event === 'string' ? event : 'matching message'}` +
                    ` within ${timeout} ms; queued: ` +
                    JSON.stringify(this.queue.map((m) => m.raw.slice(0, 200)))));
            }, timeout);
            this.waiters.push(w);
        });
    }

    //  The next `error` event; asserts its code.
    async nextError(code, opts) {
        const m = await this.next('error', opts);
        if (m.data?.code !== code) {
            throw new Error(`${this.name()}: expected error ${code}, got ` +
                            m.raw.slice(0, 300));
        }
        return m;
    }

    //  Messages received but not consumed by next().
    pending() {
        return this.queue.slice();
    }

    //  Take every queued message matching pred off the queue; returns them.
    drop(pred) {
        const taken = this.queue.filter(pred);
        this.queue = this.queue.filter((m) => !pred(m));
        return taken;
    }

    events(name) {
        return this.log.filter((m) => m.event === name);
    }

    name() {
        return `client ${this.id ? this.id.slice(0, 8) : '?'}@${this.gateway || '?'}`;
    }

    send(event, data = {}) {
        this.ws.send(JSON.stringify({ event, data }));
    }

    sendRaw(payload, { binary = false, fin = true } = {}) {
        this.ws.send(payload, { binary, fin });
    }

    signal(targetId, type, payload) {
        this.send('signal', { target_id: targetId, type, payload });
    }

    //  A signal whose payload is given as raw JSON text (sent as-is).
    signalRaw(targetId, type, payloadText) {
        this.ws.send(`{"event":"signal","data":{"target_id":${JSON.stringify(targetId)},` +
                     `"type":${JSON.stringify(type)},"payload":${payloadText}}}`);
    }

    close(code = 1000) {
        if (this.closeInfo) return this.closed;
        if (this.ws.readyState === WebSocket.CONNECTING ||
            this.ws.readyState === WebSocket.OPEN) {
            this.ws.close(code);
        }
        //  A server that never answers the close handshake: cut it.
        const t = setTimeout(() => this.ws.terminate(), 3000);
        return this.closed.then((info) => {
            clearTimeout(t);
            return info;
        });
    }

    //  Abrupt TCP close, no close handshake.
    terminate() {
        this.ws.terminate();
        return this.closed;
    }
}

//  Connect; resolves once open and (unless welcome: false) once the
//  server's welcome {id} arrived (taken off the queue, kept in client.id).
export async function connect(url, { welcome = true, timeout = 5000,
                                     protocols, origin, online } = {}) {
    const ws = new WebSocket(url, protocols, { handshakeTimeout: timeout,
                                               perMessageDeflate: false,
                                               origin });
    const client = new Client(ws, { online });
    await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
        ws.once('unexpected-response', (req, res) =>
            reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    });
    if (welcome) {
        const w = await client.next('welcome', { timeout });
        client.id = w.data?.id;
        client.welcomeOnline = w.data?.online;
        if (typeof client.id !== 'string') {
            throw new Error(`welcome without id: ${w.raw}`);
        }
    }
    return client;
}

//  ---------------------------------------------------------------------
//  Raw JSON: the exact text of a value inside a JSON document.

function skipWs(s, i) {
    while (i < s.length && ' \t\r\n'.includes(s[i])) i++;
    return i;
}

function scanString(s, i) {
    //  s[i] === '"'; returns the index after the closing quote.
    for (i++; i < s.length; i++) {
        if (s[i] === '\\') i++;
        else if (s[i] === '"') return i + 1;
    }
    throw new Error('unterminated string');
}

//  Returns the index just past the value starting at i.
function scanValue(s, i) {
    i = skipWs(s, i);
    const c = s[i];
    if (c === '"') return scanString(s, i);
    if (c === '{' || c === '[') {
        const close = c === '{' ? '}' : ']';
        i = skipWs(s, i + 1);
        if (s[i] === close) return i + 1;
        for (;;) {
            if (c === '{') {
                i = skipWs(s, scanString(s, skipWs(s, i)));
                if (s[i] !== ':') throw new Error(`expected : at ${i}`);
                i++;
            }
            i = skipWs(s, scanValue(s, i));
            if (s[i] === ',') {
                i++;
                continue;
            }
            if (s[i] === close) return i + 1;
            throw new Error(`expected , or ${close} at ${i}`);
        }
    }
    const m = /^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(s.slice(i, i + 64));
    if (!m) throw new Error(`bad value at ${i}`);
    return i + m[0].length;
}

//  The raw text of the value at keys (e.g. ['data', 'payload']) in the
//  JSON text s, without surrounding whitespace; undefined if absent.
export function rawValue(s, keys) {
    let i = skipWs(s, 0);
    for (const key of keys) {
        if (s[i] !== '{') return undefined;
        i = skipWs(s, i + 1);
        let found = false;
        while (s[i] !== '}') {
            const kEnd = scanString(s, i);
            const k = JSON.parse(s.slice(i, kEnd));
            i = skipWs(s, kEnd);
            i = skipWs(s, i + 1); //  ':'
            if (k === key) {
                found = true;
                break;
            }
            i = skipWs(s, scanValue(s, i));
            if (s[i] === ',') i = skipWs(s, i + 1);
        }
        if (!found) return undefined;
    }
    return s.slice(i, scanValue(s, i));
}

//  The raw payload text of a received signal message.
export function rawPayload(msg) {
    return rawValue(msg.raw, ['data', 'payload']);
}
