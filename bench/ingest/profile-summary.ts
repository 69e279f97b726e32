/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function (name + file:line), the top
 * frames by share of all samples, and the share of GC, idle and program (native) time. Used for the flame-graph
 * summary in bench/README.md.
 *
 * Usage: tsx bench/ingest/profile-summary.ts <file.cpuprofile> [top=25]
 */
import { label, owner, readProfile } from './cpu-profile.ts';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: tsx bench/ingest/profile-summary.ts <file.cpuprofile> [top]\n');
  process.exit(2);
}
const profile = readProfile(file);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

const perLabel = new Map<string, number>();
const perOwner = new Map<string, number>();
let total = 0;
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  if (!n) continue;
  total += us;
  perLabel.set(label(n), (perLabel.get(label(n)) ?? 0) + us);
  perOwner.set(owner(n), (perOwner.get(owner(n)) ?? 0) + us);
}
const idle = perLabel.get('(idle)') ?? 0;
const busy = total - idle;
const pct = (us: number, of: number) => ((100 * us) / of).toFixed(1);
process.stdout.write(
  `samples ${profile.samples.length}, wall ${(total / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s ` +
    `(${pct(busy, total)}%), GC ${pct(perLabel.get('(garbage collector)') ?? 0, busy)}% of busy\n\n` +
    '| self % of busy | owner |\n|---:|---|\n' +
    [...perOwner]
      .filter(([o]) => o !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([o, us]) => `| ${pct(us, busy)} | \`${o}\` |\n`)
      .join('') +
    '\n| self % of busy | self ms | function |\n|---:|---:|---|\n',
);
const rows = [...perLabel]
  .filter(([l]) => l !== '(idle)')
  .sort((a, b) => b[1] - a[1])
  .slice(0, Number(topArg ?? 25));
for (const [l, us] of rows)
  process.stdout.write(`| ${pct(us, busy)} | ${(us / 1000).toFixed(0)} | \`${l}\` |\n`);
