#!/usr/bin/env python3
"""Print the benchmark table, the ratios chatstore/peer and the targets.

usage: report.py latest.csv SCALE W7_CHECK_LINE SIZE_LINES
Never fails because a target is missed: the targets are reported, not enforced.
With BENCH_ITEMS_SUMMARY set (run.sh does), the S1/S2 summary that
items_stream.py wrote there (JSON: targets and lines) is added; likewise the
F1-F3 summary of frameworks/bench.mjs with BENCH_FRAMEWORKS_SUMMARY.
"""
import csv
import json
import os
import re
import sys

path, scale = sys.argv[1], sys.argv[2]
w7check = sys.argv[3] if len(sys.argv) > 3 else ''
sizes = sys.argv[4] if len(sys.argv) > 4 else ''
# S1_stream / S2_items (items_stream.py): their targets and summary lines
items = {'targets': [], 'lines': []}
if os.environ.get('BENCH_ITEMS_SUMMARY') and os.path.exists(os.environ['BENCH_ITEMS_SUMMARY']):
    items = json.load(open(os.environ['BENCH_ITEMS_SUMMARY']))
# F1_langgraph / F2_vercel / F3_langchain_pg (frameworks/bench.mjs): the same shape
if os.environ.get('BENCH_FRAMEWORKS_SUMMARY') and os.path.exists(os.environ['BENCH_FRAMEWORKS_SUMMARY']):
    fw = json.load(open(os.environ['BENCH_FRAMEWORKS_SUMMARY']))
    items = {'targets': items['targets'] + fw['targets'], 'lines': (items['lines'] + [''] if items['lines'] else []) + fw['lines']}
# ---- W1_net (network.sh, BENCH_NET_SUMMARY): its targets and lines, added
# to those of items_stream.py (same JSON shape) ----
if os.environ.get('BENCH_NET_SUMMARY') and os.path.exists(os.environ['BENCH_NET_SUMMARY']):
    net = json.load(open(os.environ['BENCH_NET_SUMMARY']))
    items = {'targets': items['targets'] + net['targets'], 'lines': (items['lines'] + [''] if items['lines'] else []) + net['lines']}
# ---- end W1_net ----

rows = list(csv.DictReader(open(path)))
by = {}
for r in rows:
    by.setdefault((r['workload'], r['impl'], r['clients']), []).append(r)


def get(workload, impl, clients='1', which=-1):
    r = by.get((workload, impl, str(clients)))
    return r[which] if r else None


def tps(workload, impl, clients='1', which=-1):
    r = get(workload, impl, clients, which)
    return float(r['tps']) if r and r['tps'] else None


def ms(workload, impl, field, clients='1', which=-1):
    r = get(workload, impl, clients, which)
    return float(r[field]) if r and r[field] else None


print(f'chatstore benchmark, BENCH_SCALE={scale} (pgbench -M prepared, unix socket; '
      'one noisy machine: read ratios, not absolute numbers)')
print()
print(f'{"workload":<14}{"impl":<12}{"clients":>8}{"messages":>11}{"tps":>11}{"p50 ms":>10}{"p99 ms":>10}')
for r in rows:
    print(f'{r["workload"]:<14}{r["impl"]:<12}{r["clients"]:>8}{r["scale_messages"]:>11}'
          f'{float(r["tps"]):>11.1f}{r["p50_ms"]:>10}{r["p99_ms"]:>10}')

print()
print('ratios chatstore/peer (TPS, same run):')
for r in rows:
    if r['impl'] in ('chatstore',) or r['workload'].startswith(('W2b', 'W2c', 'W2_', 'W7', 'scale', 'S1', 'S2', 'F')):
        continue
    mine = tps(r['workload'], 'chatstore', r['clients'])
    if mine:
        print(f'  {r["workload"]:<12} chatstore/{r["impl"]:<11} {mine / float(r["tps"]):6.2f}x')

print()
print('targets:')
results = []


def target(name, value, ok, detail, reachable=True):
    """reachable: False when the storage floor measured in the same run is
    itself beyond the target, so that no implementation could meet it"""
    if value is None:
        results.append(f'  {name:<44} not measured')
        return
    verdict = 'met' if ok else ('MISSED' if reachable else 'MISSED, floor beyond target')
    results.append(f'  {name:<44} {detail:<40} {verdict}')


def ratio(a, b):
    return a / b if a and b else None




def with_floor(x, floor, fmt='{:.2f}x'):
    """'1.24x (floor 1.46x)': the same ratio for the storage floor"""
    if x is None:
        return ''
    return fmt.format(x) + (f' (floor {floor:.2f}x)' if floor else '')


# W1: the floor row is the least any implementation must do, so
# tps(floor) / tps(peer) is the highest ratio reachable against that peer
for peer, need in (('plainsql', 1.0), ('plpgsql', 1.5), ('langmiddle', 5.0), ('fluxrag', 5.0)):
    x = ratio(tps('W1', 'chatstore'), tps('W1', peer))
    ceiling = ratio(tps('W1', 'floor'), tps('W1', peer))
    target(f'W1 chatstore/{peer} >= {need}x', x, x is not None and x >= need,
           with_floor(x, ceiling), ceiling is None or ceiling >= need)
# W2 cost = median latency (each W2 run is a fixed number of transactions);
# the floor saves the 1 message and parses the 101-message JSON
single = ms('W2_single', 'chatstore', 'p50_ms')
floor = ratio(ms('W2_floor', 'save1+parse', 'p50_ms'), single)
for w in ('W2a_ids', 'W2b_noids', 'W2c_hint'):
    x = ratio(ms(w, 'chatstore', 'p50_ms'), single)
    target(f'{w} p50 / 1-message save p50 <= 2x', x, x is not None and x <= 2.0,
           with_floor(x, floor), floor is None or floor <= 2.0)
x = ratio(tps('W3', 'chatstore'), tps('W3', 'plainsql'))
target('W3 chatstore/plain SELECT >= 0.9x', x, x is not None and x >= 0.9, f'{x:.2f}x' if x else '')
# the active path of a branched thread (1.3) against the linear thread
for w in ('W3_path', 'W3_path_all'):
    x = ratio(tps(w, 'line'), tps(w, 'branched'))
    target(f'{w} line/branched (TPS) <= 1.2x', x, x is not None and x <= 1.2, f'{x:.2f}x' if x else '')
p99 = ms('W3', 'chatstore', 'p99_ms')
target('W3 p99 < 1 ms', p99, p99 is not None and p99 < 1.0, f'{p99:.3f} ms' if p99 else '')
x = ratio(tps('W6', 'chatstore'), tps('W6', 'copy'))
target('W6 chatstore/COPY >= 0.7x', x, x is not None and x >= 0.7, f'{x:.2f}x' if x else '')
x = ratio(tps('W7_8threads', 'chatstore', 8), tps('W7_1client', 'chatstore', 1))
floor = ratio(tps('W7_8threads', 'floor', 8), tps('W7_1client', 'floor', 1))
target('W7 8 clients/1 client (8 threads) >= 1.6x', x, x is not None and x >= 1.6,
       with_floor(x, floor), floor is None or floor >= 1.6)
one = tps('W7_onethread', 'chatstore', 8)
target('W7 8 clients into one thread', one, one is not None and w7check.endswith(': 0 bad'),
       'no error, ' + (w7check.split(': ')[-1] if w7check else '?'))
if any(r['workload'].startswith('scale') for r in rows):
    def growth(w, impl):
        pts = [r for r in rows if r['workload'] == w and r['impl'] == impl]
        if len(pts) < 2:
            return None, None, None
        return float(pts[-1]['p50_ms']) / float(pts[0]['p50_ms']), pts[0], pts[-1]

    for w in ('scale_W1', 'scale_W3'):
        x, lo, hi = growth(w, 'chatstore')
        if x is not None:
            floor = growth(w, 'floor')[0]
            target(f'{w[6:]} p50 at {hi["scale_messages"]} / at {lo["scale_messages"]} <= 1.2x', x,
                   x <= 1.2, with_floor(x, floor) + f' ({lo["p50_ms"]} -> {hi["p50_ms"]} ms)',
                   floor is None or floor <= 1.2)
# S1 / S2: measured and judged by items_stream.py (WAL and bytes are not in the CSV);
# F1 (LangGraph): judged by frameworks/bench.mjs (bytes, checkpoint cost, getState)
for name, detail, ok in items['targets']:
    target(name, detail, ok, detail or '')
print('\n'.join(results))
if items['lines']:
    print()
    print('\n'.join(items['lines']))

# the same as Markdown (README "Performance" pastes it)
md_path = path.rsplit('/', 1)[0] + '/latest.md'
with open(md_path, 'w') as md:
    md.write('| workload | impl | clients | stored messages | TPS | p50 ms | p99 ms | chatstore / this |\n')
    md.write('|---|---|---:|---:|---:|---:|---:|---:|\n')
    for r in rows:
        mine = tps(r['workload'], 'chatstore', r['clients'])
        rel = ''
        if r['impl'] != 'chatstore' and mine and r['tps'] and not r['workload'].startswith(('W2_', 'W7', 'scale', 'S1', 'S2', 'F')):
            rel = f'{mine / float(r["tps"]):.2f}x'
        md.write(f'| {r["workload"]} | {r["impl"]} | {r["clients"]} | {r["scale_messages"]} | '
                 f'{float(r["tps"]):.1f} | {r["p50_ms"]} | {r["p99_ms"]} | {rel} |\n')
    md.write('\n| target | measured | |\n|---|---|---|\n')
    for line in results:
        parts = line.strip()
        md.write('| ' + ' | '.join(x.strip() for x in re.split(r'\s{2,}', parts)) + ' |\n')
    if items['lines']:
        md.write('\n```\n' + '\n'.join(items['lines']) + '\n```\n')
    if sizes:
        md.write('\nBytes on disk per message (table + indexes + TOAST):\n\n')
        for line in sizes.splitlines():
            md.write(f'- {line}\n')
if sizes:
    print()
    print('bytes on disk per message (table + indexes + TOAST):')
    for line in sizes.splitlines():
        print('  ' + line)
