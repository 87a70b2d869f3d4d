//  lb - helpers for testing compose/haproxy.cfg without containers: a tiny
//  authoritative DNS server on loopback (so that haproxy's server-template
//  + resolvers find the gateways the way Docker's DNS lets it find them in
//  compose), a real haproxy process run with that very config file, and a
//  reader of haproxy's stats socket.
//
//  Gateways on loopback share 127.0.0.1 and differ by port, so the DNS
//  server answers an SRV name (port in the record) instead of Docker's plain
//  A records; everything else in the config is the same.

import dgram from 'node:dgram';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

const TYPE_A = 1;
const TYPE_SRV = 33;

function encodeName(name) {
    const parts = [];
    for (const label of name.replace(/\.$/, '').split('.')) {
        const b = Buffer.from(label, 'ascii');
        parts.push(Buffer.from([b.length]), b);
    }
    parts.push(Buffer.from([0]));
    return Buffer.concat(parts);
}

//  Reads the (uncompressed) name at off; returns { name, end }.
function decodeName(buf, off) {
    const labels = [];
    for (;;) {
        if (off >= buf.length) throw new Error('dns: name past end');
        const len = buf[off];
        if (len === 0) return { name: labels.join('.').toLowerCase(), end: off + 1 };
        if (len & 0xc0) throw new Error('dns: compressed name in a question');
        labels.push(buf.toString('ascii', off + 1, off + 1 + len));
        off += 1 + len;
    }
}

function rr(name, type, rdata, ttl = 1) {
    const head = Buffer.alloc(10);
    head.writeUInt16BE(type, 0);
    head.writeUInt16BE(1, 2); //  IN
    head.writeUInt32BE(ttl, 4);
    head.writeUInt16BE(rdata.length, 8);
    return Buffer.concat([encodeName(name), head, rdata]);
}

function aData(ip) {
    return Buffer.from(ip.split('.').map(Number));
}

function srvData(port, target) {
    const b = Buffer.alloc(6);
    b.writeUInt16BE(0, 0); //  priority
    b.writeUInt16BE(10, 2); //  weight
    b.writeUInt16BE(port, 4);
    return Buffer.concat([b, encodeName(target)]);
}

//  A DNS server for one zone: srvName -> the current `targets`, a list of
//  { host, ip, port } that the test may change at any time (that is how it
//  "scales" the loopback stack). Resolves to { port, setTargets, close }.
export function startDns(srvName) {
    let targets = [];
    const sock = dgram.createSocket('udp4');
    sock.on('message', (msg, rinfo) => {
        let reply;
        try {
            reply = answer(msg);
        } catch {
            return; //  not a query we understand: drop it
        }
        sock.send(reply, rinfo.port, rinfo.address);
    });

    function answer(msg) {
        if (msg.length < 12) throw new Error('short');
        const id = msg.readUInt16BE(0);
        const flags = msg.readUInt16BE(2);
        if (msg.readUInt16BE(4) !== 1) throw new Error('qdcount');
        const q = decodeName(msg, 12);
        const qtype = msg.readUInt16BE(q.end);
        const question = msg.subarray(12, q.end + 4);
        const answers = [];
        const extra = [];
        let known = false;
        if (q.name === srvName.toLowerCase()) {
            known = true;
            if (qtype === TYPE_SRV) {
                for (const t of targets) {
                    answers.push(rr(srvName, TYPE_SRV, srvData(t.port, t.host)));
                    extra.push(rr(t.host, TYPE_A, aData(t.ip)));
                }
            }
        } else {
            for (const t of targets) {
                if (t.host.toLowerCase() !== q.name) continue;
                known = true;
                if (qtype === TYPE_A) answers.push(rr(t.host, TYPE_A, aData(t.ip)));
            }
        }
        //  Any other type (AAAA) of a known name: NOERROR, no answer.
        const head = Buffer.alloc(12);
        head.writeUInt16BE(id, 0);
        //  QR, opcode 0, AA, RD as asked, RA; rcode NXDOMAIN if unknown.
        head.writeUInt16BE(0x8400 | (flags & 0x0100) | 0x0080 | (known ? 0 : 3), 2);
        head.writeUInt16BE(1, 4);
        head.writeUInt16BE(answers.length, 6);
        head.writeUInt16BE(0, 8);
        head.writeUInt16BE(extra.length, 10);
        return Buffer.concat([head, question, ...answers, ...extra]);
    }

    return new Promise((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(0, '127.0.0.1', () => {
            resolve({
                port: sock.address().port,
                setTargets(list) {
                    targets = list.slice();
                },
                close() {
                    sock.close();
                },
            });
        });
    });
}

//  Runs `haproxy -f config` (MEGLE_HAPROXY_BIN, set by ctest, else haproxy
//  from PATH) with env added; killed when this process dies (setpriv
//  --pdeathsig). Returns { proc, lines, exited, done, stop }.
export function startHaproxy(config, env) {
    const argv = [process.env.MEGLE_HAPROXY_BIN || 'haproxy', '-f', config];
    const [cmd, ...args] = SETPRIV
        ? [SETPRIV, '--pdeathsig', 'KILL', '--', ...argv] : argv;
    const child = spawn(cmd, args, {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    const h = { proc: child, lines: [], exited: null };
    const take = (chunk) => {
        for (const l of chunk.toString('utf8').split('\n')) if (l) h.lines.push(l);
        if (h.lines.length > 5000) h.lines.splice(0, 1000);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    h.done = new Promise((resolve) => {
        child.on('exit', (code, signal) => {
            h.exited = { code, signal };
            resolve(h.exited);
        });
        child.on('error', (err) => {
            h.lines.push(`spawn error: ${err.message}`);
            h.exited = { code: -1, error: err };
            resolve(h.exited);
        });
    });
    process.on('exit', () => {
        if (!h.exited) child.kill('SIGKILL');
    });
    h.stop = async () => {
        if (h.exited) return h.exited;
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await h.done;
        clearTimeout(t);
        return h.exited;
    };
    return h;
}

//  One command on haproxy's stats socket; resolves to its whole answer.
export function haproxyCommand(socketPath, command, timeout = 2000) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(socketPath);
        const chunks = [];
        const timer = setTimeout(() => sock.destroy(new Error('stats socket timeout')),
            timeout);
        sock.on('connect', () => sock.write(`${command}\n`));
        sock.on('data', (c) => chunks.push(c));
        sock.on('error', (err) => {
            clearTimeout(timer);
            reject(err);
        });
        sock.on('close', () => {
            clearTimeout(timer);
            resolve(Buffer.concat(chunks).toString('utf8'));
        });
    });
}

//  The servers of one backend from `show stat`: [{ name, status, addr,
//  scur, ... }] (every CSV column by its header name).
export async function backendServers(socketPath, backend = 'gateways') {
    const text = await haproxyCommand(socketPath, 'show stat');
    const lines = text.split('\n').filter(Boolean);
    if (!lines.length || !lines[0].startsWith('# ')) {
        throw new Error(`unexpected show stat answer: ${text.slice(0, 200)}`);
    }
    const cols = lines[0].slice(2).split(',');
    const out = [];
    for (const line of lines.slice(1)) {
        const f = line.split(',');
        const row = {};
        cols.forEach((c, i) => {
            row[c] = f[i];
        });
        if (row.pxname !== backend || row.svname === 'BACKEND') continue;
        row.name = row.svname;
        out.push(row);
    }
    return out;
}
