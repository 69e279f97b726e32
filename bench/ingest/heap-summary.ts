/**
 * Summarises a V8 heap snapshot (`.heapsnapshot`, from BENCH_HEAP or `v8.writeHeapSnapshot`): self size and count
 * by kind of object, largest first. Plain objects are told apart by their size (`Object 72 B`: a session tag;
 * `Object 296 B`: a leg of one), strings and numbers are counted together. What a heap holds after a GC is what
 * every major GC marks, so this says which of custody's structures a smaller live heap has to come from.
 *
 * Usage: tsx bench/ingest/heap-summary.ts <file.heapsnapshot> [top=30]
 */
import { readFileSync } from 'node:fs';

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: tsx bench/ingest/heap-summary.ts <file.heapsnapshot> [top]\n');
  process.exit(2);
}
const heap = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot;
const fields = heap.snapshot.meta.node_fields;
const types = heap.snapshot.meta.node_types[0];
const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
  number,
  number,
  number,
];
const GROUPED_BY_TYPE = new Set(['string', 'concatenated string', 'sliced string', 'number']);

const byKind = new Map<string, { count: number; bytes: number }>();
let total = 0;
for (let i = 0; i < heap.nodes.length; i += fields.length) {
  const type = types[heap.nodes[i + typeAt] as number] as string;
  const name = heap.strings[heap.nodes[i + nameAt] as number] as string;
  const size = heap.nodes[i + sizeAt] as number;
  const kind = GROUPED_BY_TYPE.has(type)
    ? type
    : type === 'object' && name === 'Object'
      ? `Object ${size} B`
      : `${type}: ${name.slice(0, 60)}`;
  const k = byKind.get(kind) ?? { count: 0, bytes: 0 };
  k.count++;
  k.bytes += size;
  byKind.set(kind, k);
  total += size;
}
const mib = (b: number): string => (b / 1048576).toFixed(1);
const top = [...byKind].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, Number(topArg ?? 30));
process.stdout.write(
  [
    `${mib(total)} MiB in ${heap.nodes.length / fields.length} objects`,
    '| MiB | share | count | kind |',
    '|---|---|---|---|',
    ...top.map(
      ([kind, k]) => `| ${mib(k.bytes)} | ${((k.bytes / total) * 100).toFixed(1)} % | ${k.count} | ${kind} |`,
    ),
  ].join('\n') + '\n',
);
