//  frames - bus frames and megle-tap record files built by hand, for tests
//  that inject frames on the bus (megle-tap --replay FILE --send ENDPOINT).
//  The layout is proto/frame.h's: a msgpack array of ten elements
//  [version, kind, gateway, session, peer, match, flags, type, payload,
//  time]; the record file is tools/tap/record.h's.

import { randomBytes } from 'node:crypto';

export const KIND = {
    hello: 1, heartbeat: 2, open: 3, find: 4, signal: 5, leave: 6, close: 7,
    bye: 8, chat: 9, typing: 10,
};

function str(s) {
    const b = Buffer.from(s, 'utf8');
    if (b.length < 32) return Buffer.concat([Buffer.from([0xa0 | b.length]), b]);
    return Buffer.concat([Buffer.from([0xd9, b.length]), b]);
}

function bin(b) {
    return Buffer.concat([Buffer.from([0xc4, b.length]), b]);
}

//  One frame as frame_encode writes it (payload < 256 bytes).
export function frame({ kind, gateway = '', session = '', peer = '', match = '',
                        flags = 0, type = '', payload = Buffer.alloc(0) }) {
    const time = Buffer.alloc(9);
    time[0] = 0xcf;
    time.writeBigUInt64BE(BigInt(Date.now()), 1);
    return Buffer.concat([
        Buffer.from([0x9a, 1, kind]), str(gateway), str(session), str(peer),
        str(match), Buffer.from([flags & 0x7f]), str(type),
        bin(Buffer.from(payload)), time]);
}

//  A record file holding the given frames as gateway -> matcher frames.
export function recordFile(frames) {
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

//  A fresh session id (32 lower-case hex digits).
export function newId() {
    return randomBytes(16).toString('hex');
}
