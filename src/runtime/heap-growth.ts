/**
 * How far V8 lets the old generation grow past what survived the last full GC before it starts the next one.
 *
 * V8 derives that factor from how fast its GC runs against the program; for the roles' heaps (ingest: ~40–60 MB
 * live) it settles near 1.5, which leaves ~25 MB of headroom. V8 starts incremental marking as soon as the
 * headroom is below the young generation's capacity (~32 MB with Node's default 16 MB semi-spaces), so every full
 * GC was followed at once by the next: in bench:ingest at 1,000 frames/s a full GC every ~150 ms, V8's marking
 * helpers using ~0.6 of a core beside the ~0.5 the program itself used. A fixed factor of 2 leaves the headroom
 * above that threshold: ~10 full GCs instead of ~230 per run, 40 % less CPU per frame (bench/README.md, "V8's
 * full GCs"), the peak heap at most twice the live heap (still capped by --max-old-space-size).
 *
 * The factor is process-wide: it covers ingest's snapshot worker too. Since the worker holds the snapshots, ingest's
 * main thread has ~35 MB live, so a factor of 2 is again near that threshold; 3 shortened the tail at 5,000 frames/s
 * but let the worker's heap, which grows with the conversations in flight, take more memory (bench/README.md, "Frame
 * texts let go"). Hence 2.
 *
 * Set at start-up, before the role allocates much; the factor is read after every full GC, so a runtime flag takes
 * effect from the first one. A value given on Node's command line (`node --heap-growing-percent=N`) is kept.
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 100;

/** Applies {@link HEAP_GROWING_PERCENT} unless the command line chose a value; returns the value in force. */
export function tuneHeapGrowth(execArgv: readonly string[] = process.execArgv): number | 'command line' {
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a))) return 'command line';
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return HEAP_GROWING_PERCENT;
}
