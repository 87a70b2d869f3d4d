//  ports - free TCP ports on 127.0.0.1 for the test stacks (no side
//  effects on import: tests/lib/stack.mjs and tests/browser/stack.mjs share
//  it).

import net from 'node:net';

//  Ports this process handed out. A port is closed again as soon as it is
//  found free, so the kernel may offer it to the next bind(0) as well: it
//  did, and a gateway was given the port its matcher was about to bind for
//  the bus. A port is never handed out twice.
const handedOut = new Set();

function anyFreePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

//  A TCP port free on 127.0.0.1 a moment ago, not handed out before.
export async function freePort() {
    for (;;) {
        const port = await anyFreePort();
        if (!handedOut.has(port)) {
            handedOut.add(port);
            return port;
        }
    }
}
