/**
 * `tsx bench/ingest/trace-summary.ts <trace.json>`: where a bench:ingest run's latency tail came from, from a
 * `BENCH_TRACE` file. Prints the 100 ms windows whose slowest frame waited more than 50 ms (the p99 target), the
 * GC pauses longer than 10 ms and the produce requests slower than 50 ms, each at its time from the run's first
 * frame, and the requests' duration quantiles. A tail that follows slow requests is the broker (one request is in
 * flight at a time); one that follows long GC pauses, or neither, is ingest's own.
 */
import { readFileSync } from 'node:fs';
import { quantile } from '../support.ts';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: tsx bench/ingest/trace-summary.ts <trace.json>\n');
  process.exit(64);
}
const trace = JSON.parse(readFileSync(file, 'utf8')) as {
  frames: number[];
  gc: number[];
  requests: number[];
  /** [at, timer lateness, ticks: process, its main thread, its V8 workers, broker, generator] every 10 ms. */
  cpu?: number[];
};
/** A flat trace array as its records of `width` numbers each. */
const records = (flat: number[], width: number): number[][] => {
  const out: number[][] = [];
  for (let i = 0; i + width <= flat.length; i += width) out.push(flat.slice(i, i + width));
  return out;
};
const frames = records(trace.frames, 2);
if (frames.length === 0) {
  process.stdout.write('no frames in this trace\n');
  process.exit(0);
}
// A loop, not Math.min(...): a long run traces more frames than a call takes arguments.
let t0 = Infinity;
for (const [receivedAt] of frames) if (receivedAt! < t0) t0 = receivedAt!;
const at = (epochMs: number): string => `${((epochMs - t0) / 1000).toFixed(2)} s`;

const windows = new Map<number, number>();
for (const [receivedAt, latency] of frames) {
  const w = Math.floor((receivedAt! - t0) / 100);
  windows.set(w, Math.max(windows.get(w) ?? 0, latency!));
}
const slowWindows = [...windows].filter(([, max]) => max > 50).sort(([a], [b]) => a - b);
const gcs = records(trace.gc, 3);
const requests = records(trace.requests, 3);
const durations = requests.map(([, d]) => d!).sort((a, b) => a - b);

const lines = [
  `${frames.length} frames, ${requests.length} produce requests, ${gcs.length} GCs (${Math.round(gcs.reduce((n, [, d]) => n + d!, 0))} ms in all)`,
  `100 ms windows whose slowest frame waited > 50 ms (${slowWindows.length}): ${slowWindows.map(([w, max]) => `${(w / 10).toFixed(1)} s: ${max} ms`).join(', ') || 'none'}`,
  `GC pauses > 10 ms: ${
    gcs
      .filter(([, d]) => d! > 10)
      .map(([start, d]) => `${at(start!)}: ${d!.toFixed(1)} ms`)
      .join(', ') || 'none'
  }`,
  `produce requests > 50 ms: ${
    requests
      .filter(([, d]) => d! > 50)
      .map(([start, d, n]) => `${at(start!)}: ${d} ms (${n} records)`)
      .join(', ') || 'none'
  }`,
  `produce request ms p50 / p90 / p99 / max: ${quantile(durations, 0.5)} / ${quantile(durations, 0.9)} / ${quantile(durations, 0.99)} / ${durations[durations.length - 1] ?? NaN}`,
];

// Who had the cores: CPU shares (of one core) over an interval, from the 10-ms samples around it.
const samples = records(trace.cpu ?? [], 7);
const shares = (from: number, to: number): string | undefined => {
  const inside = samples.filter(([t]) => t! >= from - 10 && t! <= to + 10);
  if (inside.length < 2) return undefined;
  const a = inside[0]!;
  const b = inside[inside.length - 1]!;
  const secs = (b[0]! - a[0]!) / 1000;
  const share = (i: number) => ((b[i]! - a[i]!) / 100 / secs).toFixed(2);
  const late = Math.max(...inside.map((s) => s[1]!));
  return `ingest ${share(2)} (main thread ${share(3)}, V8 workers ${share(4)}), broker ${share(5)}, generator ${share(6)}; timer late ≤ ${late} ms`;
};
if (samples.length > 1) {
  const whole = shares(samples[0]![0]!, samples[samples.length - 1]![0]!);
  lines.push(`CPU, cores' worth over the run: ${whole}`);
  for (const [start, d, n] of requests.filter(([, d]) => d! > 50))
    lines.push(
      `  during the ${d} ms request at ${at(start!)} (${n} records): ${shares(start!, start! + d!) ?? 'no samples'}`,
    );
}
process.stdout.write(`${lines.join('\n')}\n`);
