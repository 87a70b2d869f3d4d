#!/usr/bin/env python3
"""capacity - megle's capacity model, from the bench's own measurements.

Reads the results directory of scripts/bench.sh (megle-bench --json per
run, ceiling.py output, and cost.sh's callgrind figures) and writes
docs/capacity.md:
  1. unit costs: CPU seconds of each process per connection, per pair
     cycle (find_match x2, match_found x2, leave, partner_left), per
     relayed message and per idle connection-second, RSS per connection,
     the Redis script ceilings and the callgrind instruction counts;
  2. the check: those unit costs predict the CPU and RSS of each process
     during the `scale` run (SCALE_CONNS idle connections over three
     gateways plus a mixed load), next to what was measured, with the
     difference in %;
  3. the model for a peak (default: 1 M concurrent users, 20 k arrivals/s,
     30 signals and 4 chat lines per match): gateway processes, matchers,
     Redis shards, memory, bandwidth, and which stage saturates first.
Python 3 standard library only.

capacity.py [--out FILE] [--cost FILE] [--users N] [--arrivals R]
            [--signals N] [--chat N] [--headroom F] [--conns-per-gw N]
            [--ping-s S] RESULTS
"""
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (load, med, fmt, machine: same directory)

#  Message sizes of the model (bytes of JSON text in a client's WebSocket
#  message), the ones megle-bench sends: offers/answers 2-4 KB of SDP,
#  ICE candidates ~250 B; a chat line of 80 characters.
SDP_BYTES = 3100
CAND_BYTES = 330
CHAT_BYTES = 130
SERVER_EXTRA = 60     # the server adds sender_id (and the match id)
WS_HDR = 6            # WebSocket frame header (4 more bytes of mask in)
TCP_IP = 66           # Ethernet + IPv4 + TCP with timestamps, per segment
BUS_EXTRA = 150       # bus frame: three ids, type, msgpack framing, topic
SMALL_MSG = 120       # find_match, waiting, match_found, leave, ...
SMALL_PER_PAIR = 10   # of those per pair cycle, both directions, both sides


def runs_of(data, label):
    return [r for r in data.get(label, []) if r.get('ok')]


def proc_cpu_s(run, prefix, key='cpu_pct', window='window_s'):
    """CPU seconds of the processes whose name starts with prefix."""
    total, seen = 0.0, False
    pcts = run.get(key)
    for p in run.get('procs', []):
        if not p['name'].startswith(prefix):
            continue
        pct = pcts.get(p['name']) if isinstance(pcts, dict) else p.get(key)
        if pct is None or pct < 0:
            continue
        total += pct / 100.0 * run.get(window, 0)
        seen = True
    return total if seen else None


def nprocs(run, prefix):
    return sum(1 for p in run.get('procs', []) if p['name'].startswith(prefix))


def median(vals):
    vals = [v for v in vals if isinstance(v, (int, float))]
    return statistics.median(vals) if vals else None


STAGES = (('gateway', 'gateways (sum)'), ('matcher', 'matcher'),
          ('redis', 'redis-server'))


def unit_costs(d):
    """CPU seconds per operation and per idle connection-second, per stage."""
    u = {s: {} for s, _ in STAGES}
    conns = runs_of(d, 'conns')
    for s, _ in STAGES:
        idle, conn = [], []
        for r in conns:
            tot = proc_cpu_s(r, s)
            hold = proc_cpu_s(r, s, 'hold_cpu_pct', 'hold_window_s')
            n = r.get('still_open') or 0
            if tot is None or hold is None or not n:
                continue
            idle.append(hold / (n * r['hold_window_s']))
            conn.append(max(0.0, tot - hold) / n)
        u[s]['idle'] = median(idle)
        u[s]['conn'] = median(conn)

    def per_op(label, count_of, clients_of):
        out = {}
        for s, _ in STAGES:
            vals = []
            for r in runs_of(d, label):
                cpu = proc_cpu_s(r, s)
                ops = count_of(r)
                if cpu is None or not ops:
                    continue
                idle = (u[s]['idle'] or 0) * clients_of(r) * r['window_s']
                vals.append(max(0.0, cpu - idle) / ops)
            out[s] = median(vals)
        return out
    pair = per_op('match_half', lambda r: r.get('pairs'),
                  lambda r: r.get('clients', 0))
    sig = per_op('relay_10k',
                 lambda r: (r.get('delivered_per_s') or 0) * r['window_s'],
                 lambda r: 2 * r.get('pairs', 0))
    for s, _ in STAGES:
        u[s]['pair'] = pair[s]
        u[s]['msg'] = sig[s]
    return u


def rss_costs(d):
    conns = runs_of(d, 'conns')
    match = runs_of(d, 'match')
    out = {
        'gw_conn': report.med(conns, 'rss_per_conn.gateway1'),
        'redis_conn': report.med(conns, 'rss_per_conn.redis'),
        'matcher_conn': report.med(conns, 'rss_per_conn.matcher'),
        'gw_base': median([p['rss_kb_before'] * 1024.0 for r in conns
                           for p in r.get('procs', [])
                           if p['name'] == 'gateway1']),
    }
    vals = []
    for r in match:
        for p in r.get('procs', []):
            if p['name'] == 'redis' and r.get('pairs'):
                vals.append((p['rss_kb_after'] - p['rss_kb_before']) * 1024.0
                            / r['pairs'])
    out['redis_pair'] = median(vals)
    return out


def conns_at_scale(d, label):
    """RSS per connection summed over the gateways of a multi-gateway run."""
    vals, opened, procs = [], [], []
    for r in runs_of(d, label):
        per = r.get('rss_per_conn', {})
        tot = sum(v for k, v in per.items() if k.startswith('gateway'))
        vals.append(tot)
        opened.append(r.get('still_open'))
        procs.append(r.get('bench_procs'))
    return median(vals), median(opened), median(procs)


def check(d, u, rss):
    """Predicted vs measured CPU and RSS during the scale run."""
    rows = []
    #  report.load keeps the run order: run r of both files goes together.
    pairs = list(zip(d.get('scale_conns', []), d.get('scale_mixed', [])))
    preds = {}
    meas = {}
    load = {}
    for c, m in pairs:
        if not m.get('ok'):
            continue
        w = m.get('window_s') or 0
        if not w:
            continue
        ngw = nprocs(m, 'gateway') or 1
        #  What was open (a run cut short by its deadline holds fewer).
        idle_conns = (c.get('opened') or 0) + (m.get('peak_conns') or 0)
        rate = {'conn': (m.get('arrivals') or 0) / w,
                'pair': (m.get('matches') or 0) / w,
                'msg': m.get('delivered_per_s') or 0,
                'idle': idle_conns}
        for k, v in rate.items():
            load.setdefault(k, []).append(v)
        for s, _ in STAGES:
            cost = sum((u[s].get(k) or 0) * v for k, v in rate.items())
            n = ngw if s == 'gateway' else 1
            preds.setdefault(s, []).append(100.0 * cost / n)
            got = proc_cpu_s(m, s)
            if got is not None:
                meas.setdefault(s, []).append(100.0 * got / w / n)
        gw_rss = [p['rss_kb_after'] * 1024.0 for p in m.get('procs', [])
                  if p['name'].startswith('gateway')]
        gw_base = [p['rss_kb_before'] * 1024.0 for p in c.get('procs', [])
                   if p['name'].startswith('gateway')]
        if gw_rss and gw_base and rss['gw_conn'] is not None:
            preds.setdefault('gw_rss', []).append(
                statistics.mean(gw_base) + idle_conns / ngw * rss['gw_conn'])
            meas.setdefault('gw_rss', []).append(statistics.mean(gw_rss))
        r_rss = [p['rss_kb_after'] * 1024.0 for p in m.get('procs', [])
                 if p['name'] == 'redis']
        r_base = [p['rss_kb_before'] * 1024.0 for p in c.get('procs', [])
                  if p['name'] == 'redis']
        if r_rss and r_base and rss['redis_conn'] is not None:
            preds.setdefault('redis_rss', []).append(
                r_base[0] + idle_conns * rss['redis_conn'])
            meas.setdefault('redis_rss', []).append(r_rss[0])
    for key, label, unit in (
            ('gateway', 'CPU per gateway process', '%'),
            ('matcher', 'CPU of the matcher', '%'),
            ('redis', 'CPU of redis-server', '%'),
            ('gw_rss', 'RSS per gateway process', 'MiB'),
            ('redis_rss', 'RSS of redis-server', 'MiB')):
        p, m = median(preds.get(key, [])), median(meas.get(key, []))
        rows.append((label, unit, p, m))
    return rows, {k: median(v) for k, v in load.items()}, len(pairs)


def model(u, rss, ceil, a):
    """The peak load a of the model, costed per stage."""
    users, arr = a['users'], a['arrivals']
    pairs = arr / 2.0
    msgs = pairs * (a['signals'] + a['chat'])
    #  The measured idle cost was taken with a ping every 5 s per
    #  connection; scale it to the model's ping period.
    idle_scale = 5.0 / a['ping_s']
    load = {'conn': arr, 'pair': pairs, 'msg': msgs, 'idle': users}
    cores = {}
    for s, _ in STAGES:
        c = 0.0
        for k, v in load.items():
            x = u[s].get(k) or 0
            c += x * v * (idle_scale if k == 'idle' else 1)
        cores[s] = c
    h = a['headroom']
    gw_cpu = math.ceil(cores['gateway'] / h) if cores['gateway'] else 0
    gw_fd = math.ceil(users / a['conns_per_gw'])
    gw = max(gw_cpu, gw_fd, 1)
    mt = max(1, math.ceil(cores['matcher'] / h))
    #  Redis: one shard holds every key of one queue family (hash tag
    #  {megle}), single-threaded; its busy share from the script ceilings.
    r_match = pairs / ceil['pairs'] if ceil.get('pairs') else None
    r_route = msgs / ceil['route'] if ceil.get('route') else None
    r_conn = arr * (u['redis'].get('conn') or 0)
    r_idle = users * (u['redis'].get('idle') or 0) * idle_scale
    #  Relays skip Redis (the matcher's route cache) except the first relay
    #  of each side of a match made by another matcher: (mt - 1) / mt of
    #  the two sides of every pair.
    r_miss = None if not ceil.get('route') else \
        2.0 * pairs * (mt - 1) / mt / ceil['route']
    r_total = None if r_match is None or r_miss is None else \
        r_match + r_miss + r_conn + r_idle
    shards = math.ceil(r_total / h) if r_total else None
    #  For comparison: every relay through the route script (no cache).
    r_nocache = None if r_total is None or r_route is None else \
        r_total - r_miss + r_route
    #  Memory.
    mem_gw = users * (rss['gw_conn'] or 0) + gw * (rss['gw_base'] or 0)
    mem_redis = users * (rss['redis_conn'] or 0) + \
        pairs * a['match_ttl'] * (rss['redis_pair'] or 0)
    #  Bandwidth: per match, 2 SDP + (signals - 2) candidates + chat.
    per_match_in = (2 * SDP_BYTES + (a['signals'] - 2) * CAND_BYTES
                    + a['chat'] * CHAT_BYTES
                    + (a['signals'] + a['chat']) * (WS_HDR + 4 + TCP_IP)
                    + SMALL_PER_PAIR / 2 * (SMALL_MSG + WS_HDR + TCP_IP))
    per_match_out = per_match_in + (a['signals'] + a['chat']) * SERVER_EXTRA
    client_in = pairs * per_match_in
    client_out = pairs * per_match_out
    bus_msg = (2 * SDP_BYTES + (a['signals'] - 2) * CAND_BYTES
               + a['chat'] * CHAT_BYTES) / (a['signals'] + a['chat']) \
        + BUS_EXTRA
    bus_each_way = msgs * bus_msg + pairs * SMALL_PER_PAIR / 2 * BUS_EXTRA
    return {'load': load, 'cores': cores, 'gw': gw, 'gw_cpu': gw_cpu,
            'gw_fd': gw_fd, 'mt': mt, 'r_match': r_match, 'r_route': r_route,
            'r_conn': r_conn, 'r_idle': r_idle, 'r_total': r_total,
            'r_miss': r_miss,
            'shards': shards, 'r_nocache': r_nocache, 'mem_gw': mem_gw,
            'mem_redis': mem_redis, 'client_in': client_in,
            'client_out': client_out, 'bus': bus_each_way,
            'bus_msg': bus_msg, 'idle_scale': idle_scale}


def us(x):
    return 'n/a' if x is None else '%.1f µs' % (x * 1e6)


def pct(x):
    return 'n/a' if x is None else '%.0f %%' % (100 * x)


def diff(p, m):
    if p is None or not m:
        return 'n/a'
    return '%+.0f %%' % (100.0 * (p - m) / m)


def gbit(bps):
    return '%.2f Gbit/s' % (bps * 8 / 1e9)


def gib(b):
    return '%.1f GiB' % (b / 2 ** 30)


def write(out, results, cost_path, a):
    d = report.load(results)
    m = report.machine()
    u = unit_costs(d)
    rss = rss_costs(d)
    c = d.get('ceiling', [])
    ceil = {'pairs': report.med(c, 'match_pairs_per_s'),
            'route': report.med(c, 'route_calls_per_s')}
    flat = {'pairs': report.med(runs_of(d, 'match'), 'pairs_per_s'),
            'msgs': report.med(runs_of(d, 'relay'), 'delivered_per_s'),
            'hs': report.med(runs_of(d, 'conns'), 'handshakes_per_s')}
    cost = {}
    if cost_path and os.path.exists(cost_path):
        try:
            with open(cost_path) as f:
                cost = __import__('json').load(f)
        except ValueError:
            cost = {}
    rows, load, nscale = check(d, u, rss)
    per50, open50, procs50 = conns_at_scale(d, 'conns50k')
    mo = model(u, rss, ceil, a)
    f = report.fmt
    L = []
    w = L.append
    w('# megle capacity model')
    w('')
    w('Generated by `tools/bench/capacity.py` (run by `scripts/bench.sh`) '
      'from the same `megle-bench --json` results as '
      '[performance.md](performance.md), on %s; do not edit by hand. '
      'Machine: %s × %s, load average %s when written.'
      % (m['date'], m['nproc'], m['cpu'], m['load']))
    w('')
    w('The model is linear: each process\'s CPU is a sum of measured unit '
      'costs times the rate of each operation, memory a base plus a cost per '
      'connection. It is checked against a scaled-down run on this machine '
      '(below) before it is used for the peak.')
    w('')
    w('## 1. Unit costs, measured')
    w('')
    w('CPU seconds per operation, from the runs of performance.md: '
      'per connection from `conns` (the connect phase: handshake, session '
      'in Redis, welcome), per idle connection-second from its hold phase '
      '(one ping every 5 s per connection), per pair cycle from the paced '
      '`match` run (2 find_match, 2 match_found, leave, partner_left, '
      'the session\'s queue and match keys), per relayed message from the '
      'paced `relay` run over three gateways (the idle cost of the '
      'connections subtracted). Gateway figures are summed over the '
      'gateways a message crosses.')
    w('')
    w('| per | gateway | matcher | redis-server |')
    w('| --- | --- | --- | --- |')
    for k, label in (('conn', 'connection opened'),
                     ('pair', 'pair cycle'),
                     ('msg', 'relayed message (signal or chat line)'),
                     ('idle', 'idle connection, per second')):
        w('| %s | %s | %s | %s |' % (label, us(u['gateway'].get(k)),
                                     us(u['matcher'].get(k)),
                                     us(u['redis'].get(k))))
    w('')
    if cost.get('rows'):
        w('Repeatable counterpart (`tools/bench/cost.sh`, callgrind, '
          'instructions):')
        w('')
        w('| per | gateway | matcher |')
        w('| --- | --- | --- |')
        for row in cost['rows']:
            w('| %s | %s Ir | %s Ir |' % (row['what'].split(' (')[0],
                                         f(row.get('gateway')),
                                         f(row.get('matcher'))))
        w('')
    w('| memory, throughput | value |')
    w('| --- | --- |')
    w('| gateway RSS per idle connection, 10 k on one gateway | %s B |'
      % f(rss['gw_conn']))
    w('| gateway RSS per idle connection, %s over three gateways (%s '
      'bench processes) | %s B |' % (f(open50), f(procs50), f(per50)))
    w('| gateway base RSS | %s |' % ('n/a' if rss['gw_base'] is None else
                                     '%.1f MiB' % (rss['gw_base'] / 2 ** 20)))
    w('| redis RSS per session | %s B |' % f(rss['redis_conn']))
    w('| redis RSS growth per matched pair (match keys kept for their '
      'TTL) | %s B |' % f(rss['redis_pair']))
    w('| Redis ceiling, match scripts (one core) | %s pairs/s |'
      % f(ceil['pairs']))
    w('| Redis ceiling, route script (one core) | %s messages/s |'
      % f(ceil['route']))
    w('| flat out end to end on this machine: pairs/s, messages/s, '
      'handshakes/s | %s, %s, %s |' % (f(flat['pairs']), f(flat['msgs']),
                                        f(flat['hs'])))
    w('')
    w('## 2. Check: predicted vs measured, scaled down')
    w('')
    if nscale:
        w('`scale` run (%d run(s), median): %s idle connections over three '
          'gateways held by megle-bench (several processes, past the '
          'open-file limit of one), and on the same stack a `mixed` load of '
          '%s arrivals/s, %s pairs/s, %s relayed messages/s, up to %s '
          'connections at once. The unit costs above predict each '
          'process\'s CPU and RSS for that load; the measurement is the '
          'mixed run\'s window.'
          % (nscale, f(median([r.get('conns') for r in
                               d.get('scale_conns', [])])),
             f(load.get('conn'), '', 1), f(load.get('pair'), '', 1),
             f(load.get('msg')),
             f(median([r.get('peak_conns') for r in
                       d.get('scale_mixed', [])]))))
        w('')
        short = [r for r in d.get('scale_conns', []) if not r.get('ok')]
        if short:
            w('**%d scale run(s) did not open every connection in time** '
              '(%s); the prediction uses the connections that were open.'
              % (len(short), '; '.join('%s of %s opened' % (
                  f(r.get('opened')), f(r.get('conns'))) for r in short)))
            w('')
        w('| figure | predicted | measured | difference |')
        w('| --- | --- | --- | --- |')
        for label, unit, p, me in rows:
            if unit == 'MiB':
                ps = 'n/a' if p is None else '%.1f MiB' % (p / 2 ** 20)
                ms_ = 'n/a' if me is None else '%.1f MiB' % (me / 2 ** 20)
            else:
                ps = 'n/a' if p is None else '%.1f %%' % p
                ms_ = 'n/a' if me is None else '%.1f %%' % me
            w('| %s | %s | %s | %s |' % (label, ps, ms_, diff(p, me)))
        w('')
        w('Memory is linear in the connections and predicted closely; CPU '
          'less so: the unit costs come from runs that do one thing at a '
          'time (idle connections, matching, relaying), and the check '
          'combines them. Two effects the model leaves out. (1) The online '
          'count: a gateway pushes `online` to each '
          'of its clients when the count changes, at most once a second, '
          'and a change under 1 % of the count at most every 10 s '
          '(docs/protocol.md, gateway/online.c); with ~16,700 connections '
          'per gateway and people arriving and leaving all the time that '
          'is up to ~1,700 messages a second per gateway while the count '
          'moves by less than 1 % in 10 s, which none of the unit runs '
          'has (`megle_gateway_messages_out_total{event="online"}` in '
          '/metrics counts them); at 1 M users ~100 k messages a second '
          'over all gateways. Until 2026-11-29 every change went out '
          'within the second (~16,700 messages a second per gateway here), '
          'and this check measured the gateways at 2.5 times the '
          'prediction (27.7 % against 10.5 %). '
          '(2) At the check\'s low rates most messages wake the matcher and '
          'Redis alone, while the unit costs were measured at thousands per '
          'second, where one wake-up and one batch serve many: the per-op '
          'figures there are cheaper, and the matcher and Redis rows of the '
          'model read off by a few percent of a core either way. A few '
          'percent of CPU is within the noise of this shared 2-core machine.')
    else:
        w('No `scale` run in the results: run `scripts/bench.sh` (or '
          '`--scale-only`).')
    w('')
    w('## 3. The peak: %s concurrent users, %s arrivals/s'
      % (f(a['users']), f(a['arrivals'])))
    w('')
    w('Assumptions: every arrival opens a WebSocket and asks for a match, '
      'so pairs/s = arrivals/s ÷ 2 (mean stay %s s by Little\'s law); each '
      'match relays %d signals (2 offers/answers of ~%d B, the rest ICE '
      'candidates of ~%d B) and %d chat lines of ~%d B; clients are pinged '
      'every %s s (MEGLE_PING_INTERVAL_S); a stage is planned at %s of a '
      'core; a gateway process holds at most %s connections (the open-file '
      'limit here; raise it in production and the CPU rows decide).'
      % (f(a['users'] / a['arrivals'], '', 0), a['signals'], SDP_BYTES,
         CAND_BYTES, a['chat'], CHAT_BYTES, f(a['ping_s']),
         pct(a['headroom']), f(a['conns_per_gw'])))
    w('')
    ld = mo['load']
    w('| load | per second |')
    w('| --- | --- |')
    w('| connections opened (and closed) | %s |' % f(ld['conn']))
    w('| pairs matched | %s |' % f(ld['pair']))
    w('| relayed messages (signals + chat) | %s |' % f(ld['msg']))
    w('')
    w('| stage | cores of work | processes | what bounds it |')
    w('| --- | --- | --- | --- |')
    w('| megle-gateway | %.1f | **%d** (%d for CPU, %d for connections) | '
      'one core each (lws loop); scales out behind SO_REUSEPORT or a '
      'balancer |' % (mo['cores']['gateway'], mo['gw'], mo['gw_cpu'],
                      mo['gw_fd']))
    w('| megle-matcher | %.1f | **%d** | one core each; sessions hashed '
      'over the live matchers |' % (mo['cores']['matcher'], mo['mt']))
    if mo['r_total'] is not None:
        w('| Redis (one queue family = one hash tag = one shard) | %.2f '
          '(match %s, relays missing the route cache %s, sessions %s) | '
          '**%d** shard(s) | single-threaded; every key of a family on one '
          'shard |'
          % (mo['r_total'], pct(mo['r_match']), pct(mo['r_miss']),
             pct(mo['r_conn'] + mo['r_idle']), mo['shards']))
    w('')
    w('| memory and bandwidth | value |')
    w('| --- | --- |')
    w('| gateway RSS, all processes | %s |' % gib(mo['mem_gw']))
    w('| Redis memory (sessions + match keys for MEGLE_MATCH_TTL %d s) | '
      '%s |' % (a['match_ttl'], gib(mo['mem_redis'])))
    w('| client side, into the gateways / out of them | %s / %s |'
      % (gbit(mo['client_in']), gbit(mo['client_out'])))
    w('| bus, gateways → matchers and matchers → gateways (each) | %s '
      '(~%s B per relayed message) |' % (gbit(mo['bus']), f(mo['bus_msg'])))
    w('')
    w('### Which stage saturates first')
    w('')
    if mo['r_total'] is not None:
        first = mo['r_total'] / a['headroom']
        amax = a['arrivals'] / mo['r_total'] if mo['r_total'] else None
        w('Gateways and matchers scale out: add processes. Redis does not, '
          'within one queue family: all of its keys share the `{megle}` hash '
          'tag, so a Redis Cluster puts them on one shard (a Cluster buys '
          'failover there, not throughput). At this peak that shard would '
          'be %s busy (%s matching, %s relays that miss the route cache, '
          '%s sessions), so **Redis saturates first**: one family tops out '
          'near %s arrivals/s with this mix. Relays mostly skip Redis '
          'already (the matcher\'s route cache; with every relay through '
          'the route script the shard would be %s busy), and the match '
          'scripts are batched. The ways past it:'
          % (pct(mo['r_total']), pct(mo['r_match']), pct(mo['r_miss']),
             pct(mo['r_conn'] + mo['r_idle']), f(amax),
             pct(mo['r_nocache'])))
        w('')
        w('- Several queue families, one hash tag each (by region, mode or '
          'interest bucket): %d shard(s) at %s planned load, each its own '
          'Redis (or Cluster slot range) with a replica for failover, each '
          'with its own matcher group ([redis.md](redis.md#sharding-further)).'
          % (mo['shards'], pct(a['headroom'])))
        w('- Less Lua per pair: fewer arguments per op in a batch (the TTLs '
          'and the clock once per batch), fewer `redis.call`s per find '
          '(tools/bench/analysis.md lists what is left).')
    w('')
    w('Regenerate with the day\'s figures: `scripts/bench.sh` (full run), '
      'or `tools/bench/capacity.py --cost RESULTS/cost.model RESULTS` on a '
      'kept `--results` directory; the peak is set with `--users`, '
      '`--arrivals`, `--signals`, `--chat`, `--headroom`, `--conns-per-gw` '
      'and `--ping-s`.')
    with open(out, 'w') as fh:
        fh.write('\n'.join(L) + '\n')
    return 0


def main(argv):
    a = {'users': 1000000.0, 'arrivals': 20000.0, 'signals': 30, 'chat': 4,
         'headroom': 0.7, 'conns_per_gw': 20000.0, 'ping_s': 25.0,
         'match_ttl': 600}
    out, cost, rest = 'docs/capacity.md', '', []
    i = 1
    try:
        while i < len(argv):
            k = argv[i]
            if k in ('-h', '--help'):
                print(__doc__.strip())
                return 0
            if k == '--out':
                out = argv[i + 1]
            elif k == '--cost':
                cost = argv[i + 1]
            elif k.startswith('--') and k[2:].replace('-', '_') in a:
                key = k[2:].replace('-', '_')
                a[key] = type(a[key])(float(argv[i + 1]))
            else:
                rest.append(k)
                i += 1
                continue
            i += 2
    except (IndexError, ValueError):
        print('capacity.py: bad arguments (try --help)', file=sys.stderr)
        return 2
    if len(rest) != 1 or a['arrivals'] <= 0 or a['users'] <= 0 \
            or not 0 < a['headroom'] <= 1 or a['ping_s'] <= 0 \
            or a['conns_per_gw'] <= 0:
        print('capacity.py: bad arguments (try --help)', file=sys.stderr)
        return 2
    return write(out, rest[0], cost, a)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
