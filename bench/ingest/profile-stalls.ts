/**
 * Reads a V8 `.cpuprofile` over time rather than in total: finds the stretches where the main thread never went idle
 * for longer than a threshold (the event loop's stalls, which hold every frame that arrives meanwhile), and says what
 * filled them: self time by function, by owner (custody's folders, dependencies, GC), and by entry point (the
 * outermost frame under the root, i.e. which callback the loop was running).
 *
 * Usage: tsx bench/ingest/profile-stalls.ts <file.cpuprofile> [minStallMs=50] [top=15]
 */
import { label, owner, readProfile, shortUrl } from './cpu-profile.ts';
import type { ProfileNode } from './cpu-profile.ts';

const [file, minArg, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: tsx bench/ingest/profile-stalls.ts <file.cpuprofile> [minStallMs] [top]\n');
  process.exit(2);
}
const minStallUs = Number(minArg ?? 50) * 1000;
const top = Number(topArg ?? 15);
const profile = readProfile(file);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

/** The outermost JavaScript frame of a sample: the callback the event loop was running. */
const entryCache = new Map<number, string>();
const entry = (id: number): string => {
  const cached = entryCache.get(id);
  if (cached !== undefined) return cached;
  const chain: ProfileNode[] = [];
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) chain.push(byId.get(at)!);
  // chain: leaf … (root). The frame under the root, skipping Node's own dispatch frames where one is below.
  const outer = chain.reverse().slice(1);
  const first = outer.find((n) => !shortUrl(n.callFrame.url).startsWith('node:')) ?? outer[0];
  const result = first ? label(first) : '(root)';
  entryCache.set(id, result);
  return result;
};

const idle = (id: number): boolean => byId.get(id)?.callFrame.functionName === '(idle)';

interface Stall {
  startMs: number;
  us: number;
  samples: number[];
  deltas: number[];
}
const stalls: Stall[] = [];
let t = profile.startTime;
let current: Stall | undefined;
let busyUs = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  const dt = profile.timeDeltas[i] ?? 0;
  t += dt;
  if (idle(id)) {
    if (current && current.us >= minStallUs) stalls.push(current);
    current = undefined;
    continue;
  }
  busyUs += dt;
  current ??= { startMs: (t - profile.startTime) / 1000, us: 0, samples: [], deltas: [] };
  current.us += dt;
  current.samples.push(id);
  current.deltas.push(dt);
}
if (current && current.us >= minStallUs) stalls.push(current);

const totalUs = t - profile.startTime;
const tally = (key: (id: number) => string, of: Stall[]): [string, number][] => {
  const m = new Map<string, number>();
  for (const s of of)
    s.samples.forEach((id, i) => {
      const k = key(id);
      m.set(k, (m.get(k) ?? 0) + s.deltas[i]!);
    });
  return [...m].sort((a, b) => b[1] - a[1]);
};
const stallUs = stalls.reduce((n, s) => n + s.us, 0);
const pct = (us: number, of: number): string => `${((100 * us) / of).toFixed(1)} %`;
const print = (title: string, rows: [string, number][]): void => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, us] of rows.slice(0, top))
    process.stdout.write(
      `  ${(us / 1000).toFixed(0).padStart(7)} ms  ${pct(us, stallUs).padStart(7)}  ${k}\n`,
    );
};

process.stdout.write(
  `${file}: ${(totalUs / 1e6).toFixed(1)} s profiled, main thread busy ${pct(busyUs, totalUs)}; ` +
    `${stalls.length} stretches busy ≥ ${minStallUs / 1000} ms without going idle, ${(stallUs / 1000).toFixed(0)} ms in all\n`,
);
const lengths = stalls.map((s) => s.us / 1000).sort((a, b) => b - a);
process.stdout.write(
  `longest: ${lengths
    .slice(0, 20)
    .map((x) => x.toFixed(0))
    .join(', ')} ms\n`,
);
print(
  'self time in the stretches, by owner',
  tally((id) => owner(byId.get(id)!), stalls),
);
print(
  'self time in the stretches, by function',
  tally((id) => label(byId.get(id)!), stalls),
);
print('self time in the stretches, by entry point', tally(entry, stalls));

// The longest few, one by one: when they began and what filled them.
for (const s of [...stalls].sort((a, b) => b.us - a.us).slice(0, 5)) {
  process.stdout.write(`\nstretch at ${(s.startMs / 1000).toFixed(2)} s, ${(s.us / 1000).toFixed(0)} ms:\n`);
  for (const [k, us] of tally((id) => `${owner(byId.get(id)!)} · ${label(byId.get(id)!)}`, [s]).slice(0, 8))
    process.stdout.write(`  ${(us / 1000).toFixed(0).padStart(5)} ms  ${k}\n`);
  for (const [k, us] of tally(entry, [s]).slice(0, 4))
    process.stdout.write(`  entry ${(us / 1000).toFixed(0).padStart(5)} ms  ${k}\n`);
}
