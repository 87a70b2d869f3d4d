#!/usr/bin/env python3
"""ceiling - how fast can Redis run megle's Lua scripts, pipelined?

The upper bound for megle-bench's match and relay figures measured on the
same redis-server build, the same day: the matcher's own scripts
(matcher/lua/lib.lua prepended, as matcher/embed_lua.cmake does), sent by
`redis-cli --pipe` (everything in flight at once, so Redis is the only
limit). Untimed set-up opens the sessions; then, timed:
  match: per pair find(a) -> waiting, find(b) -> matched, leave(b):
         the three calls the matcher makes per pair in `megle-bench match`
  route: route(a -> b) on matched pairs: the one call per relayed signal
Prints one JSON object.

ceiling.py --port PORT --root SOURCE_DIR [--pairs N] [--routes M]
"""
import json
import os
import subprocess
import sys
import tempfile
import time

GWS = '{megle}:gws'


def resp(*args):
    out = ['*%d\r\n' % len(args)]
    for a in args:
        a = str(a)
        out.append('$%d\r\n%s\r\n' % (len(a.encode()), a))
    return ''.join(out)


def cli(port, *args):
    return subprocess.run(['redis-cli', '-p', str(port)] + list(args),
                          capture_output=True, text=True,
                          check=True).stdout.strip()


def pipe(port, text):
    with tempfile.NamedTemporaryFile('w', suffix='.resp', delete=False) as f:
        f.write(text)
        name = f.name
    try:
        t0 = time.perf_counter()
        with open(name) as f:
            r = subprocess.run(['redis-cli', '-p', str(port), '--pipe'],
                               stdin=f, capture_output=True, text=True)
        elapsed = time.perf_counter() - t0
    finally:
        os.unlink(name)
    if r.returncode != 0 or 'errors: 0' not in r.stdout:
        raise RuntimeError('redis-cli --pipe: %s %s' % (r.stdout, r.stderr))
    return elapsed


def main(argv):
    port, root, pairs, routes = None, None, 50000, 4
    i = 1
    while i < len(argv):
        if argv[i] == '--port':
            port = int(argv[i + 1])
        elif argv[i] == '--root':
            root = argv[i + 1]
        elif argv[i] == '--pairs':
            pairs = int(argv[i + 1])
        elif argv[i] == '--routes':
            routes = int(argv[i + 1])
        else:
            print(__doc__, file=sys.stderr)
            return 2
        i += 2
    if not port or not root:
        print(__doc__, file=sys.stderr)
        return 2
    lua = os.path.join(root, 'matcher', 'lua')
    lib = open(os.path.join(lua, 'lib.lua')).read()
    sha = {}
    for name in ('open', 'find', 'leave', 'route'):
        body = lib + open(os.path.join(lua, name + '.lua')).read()
        sha[name] = cli(port, 'SCRIPT', 'LOAD', body)

    def ev(name, *args):
        return resp('EVALSHA', sha[name], 1, GWS, *args)

    a = ['a%031d' % n for n in range(pairs)]
    b = ['b%031d' % n for n in range(pairs)]
    setup = ''.join(ev('open', s, 'gw-1', 'h' * 32, 86400) for s in a + b)
    pipe(port, setup)
    now = int(time.time() * 1000)
    #  find ARGV: sid, gw, mid, match_ttl, session_ttl, mode, interests,
    #  now_ms, interest wait_ms (matcher/lua/find.lua).
    match = ''.join(ev('find', a[n], 'gw-1', 'm%031d' % n, 600, 86400,
                       'video', '', now, 0)
                    + ev('find', b[n], 'gw-1', 'n%031d' % n, 600, 86400,
                         'video', '', now, 0)
                    + ev('leave', b[n], a[n], 86400, 0, 0)
                    for n in range(pairs))
    t_match = pipe(port, match)
    check = cli(port, 'HGET', '{megle}:s:' + a[-1], 'state')
    #  Match the pairs again (untimed), then route signals inside them.
    rematch = ''.join(ev('find', a[n], 'gw-1', 'r%031d' % n, 600, 86400,
                         'video', '', now, 0)
                      + ev('find', b[n], 'gw-1', 's%031d' % n, 600, 86400,
                           'video', '', now, 0)
                      for n in range(pairs))
    pipe(port, rematch)
    route = ''.join(ev('route', a[n], b[n], 's%031d' % n)
                    for _ in range(routes) for n in range(pairs))
    t_route = pipe(port, route)
    print(json.dumps({
        'scenario': 'ceiling', 'ok': check == 'idle',
        'why': '' if check == 'idle' else 'state after leave: %r' % check,
        'pairs': pairs,
        'match_pairs_per_s': round(pairs / t_match),
        'match_calls_per_s': round(3 * pairs / t_match),
        'route_calls_per_s': round(routes * pairs / t_route),
    }))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
