#!/usr/bin/env python3
"""The table of test/bench/compare.sh: per workload the median TPS of each
side over the rounds, the ratio NEW/OLD of the medians, and the range of the
per-round ratios (each round's NEW run against the OLD run next to it).

usage: compare.py RAW.csv OLD_LINE NEW_LINE SETTINGS_LINE
RAW.csv: round,workload,side,order,tps (one row per pgbench run)
"""
import csv
import statistics
import sys

raw, old_line, new_line, settings = sys.argv[1:5]

WHAT = {
    'W1': 'save 10 new messages into a thread',
    'W2a': 're-send 100 messages with ids + 1 new',
    'W3': 'chat_history: latest 50 of 1,000',
    'W4': 'chat_history: 4,000-token budget',
    'W5': 'chat_list_threads: a page of 20',
}

tps = {}          # (workload, side) -> [tps by round]
per_round = {}    # (workload, round) -> {side: tps}
order = []
for r in csv.DictReader(open(raw)):
    w = r['workload']
    if w not in order:
        order.append(w)
    tps.setdefault((w, r['side']), []).append(float(r['tps']))
    per_round.setdefault((w, r['round']), {})[r['side']] = float(r['tps'])

print('chatstore compare (read the ratios, not the absolute numbers)')
print(old_line)
print(new_line)
print(settings)
print()
head = f'{"workload":<9}{"what":<40}{"OLD tps":>10}{"NEW tps":>10}{"NEW/OLD":>9}   per-round NEW/OLD'
print(head)
print('-' * len(head))
for w in order:
    old, new = tps.get((w, 'old'), []), tps.get((w, 'new'), [])
    if not old or not new:
        continue
    mo, mn = statistics.median(old), statistics.median(new)
    ratios = sorted(v['new'] / v['old'] for (ww, _), v in per_round.items()
                    if ww == w and v.get('old') and 'new' in v)
    spread = (f'{ratios[0]:.2f}-{ratios[-1]:.2f}x (median {statistics.median(ratios):.2f}x)'
              if len(ratios) > 1 else f'{ratios[0]:.2f}x' if ratios else '')
    print(f'{w:<9}{WHAT.get(w, ""):<40}{mo:>10.1f}{mn:>10.1f}{mn / mo:>8.2f}x   {spread}')
print()
print('OLD tps, NEW tps: the median over the rounds; NEW/OLD: the ratio of the medians; '
      '> 1.00x: NEW is faster.')
