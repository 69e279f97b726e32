/**
 * The fault suite's results as a Markdown table: `.reports/fault/<scenario>.json` (written by each scenario of
 * test/fault) → stdout and `.reports/fault/table.md`; with `--record`, also `bench/results/fault-<time>.json`, the
 * file the README's table is generated from (npm run docs).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';

type Scenario = {
  name: string;
  injected: string;
  seconds: number;
  exits: Record<string, Array<number | string>>;
  audit: {
    expected: number;
    written: number;
    complete: number;
    lost: string[];
    versions: number;
    forks: number;
    failures: unknown[];
    deadLetters: { count: number; byCode: Record<string, number>; withoutReason: number };
  };
};

const ORDER = [
  'baseline',
  'zstd',
  'cold-start',
  'genesys-late',
  'broker-restart',
  's3-restart',
  's3-faults',
  'genesys-faults',
  'sink-kill-20',
  'two-sinks',
  'ingest-kill',
  'hostile-input',
];

export function readScenarios(dir = '.reports/fault'): Scenario[] {
  if (!existsSync(dir)) return [];
  const all = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')) as Scenario);
  return all.sort((a, b) => (ORDER.indexOf(a.name) + 1 || 99) - (ORDER.indexOf(b.name) + 1 || 99));
}

export function faultTable(scenarios: readonly Scenario[]): string {
  const rows = scenarios.map((s) => {
    const a = s.audit;
    const exits = Object.entries(s.exits)
      .filter(([, codes]) => codes.length > 0)
      .map(([role, codes]) => `${role}: ${codes.length}× ${[...new Set(codes)].join('/')}`)
      .join('; ');
    const letters = Object.entries(a.deadLetters.byCode)
      .map(([code, n]) => `${n} ${code}`)
      .join(', ');
    return `| ${s.name} | ${s.injected} | ${a.expected} | ${a.written} | ${a.lost.length} | ${a.complete} | ${a.forks} | ${a.failures.length} | ${letters || '0'} | ${exits || 'none'} | ${s.seconds} s |`;
  });
  return [
    '| Scenario | Injected | Manifests expected | Written | Lost | Complete | Forks | Failed checks | Dead letters | Role exits (restarted) | Time |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const scenarios = readScenarios();
  const table = faultTable(scenarios);
  mkdirSync('.reports/fault', { recursive: true });
  writeFileSync('.reports/fault/table.md', `${table}\n`);
  process.stdout.write(`${table}\n`);
  if (process.argv.includes('--record')) {
    mkdirSync('bench/results', { recursive: true });
    const file = `bench/results/fault-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
    writeFileSync(
      file,
      `${JSON.stringify({ recordedAt: new Date().toISOString(), node: process.version, scenarios }, null, 2)}\n`,
    );
    process.stdout.write(`recorded ${file}\n`);
  }
}
