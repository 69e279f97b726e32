/**
 * What `custody backfill` prints: progress on stderr (a cli-progress bar on a TTY, else a plain line every few
 * seconds) and the result on stdout (a short summary, or the report as JSON).
 */
import cliProgress from 'cli-progress';
import type { BackfillPhase, BackfillProgress, BackfillReport } from './backfill.ts';

const PHASE_LABEL: Readonly<Record<BackfillPhase, string>> = {
  rescan: 'rescanning export hours',
  discover: 'reading the topics',
  reconstruct: 'reconstructing tags',
  join: 'replaying the join',
};

export type ProgressOutput = NodeJS.WritableStream & { isTTY?: boolean };

/** Progress of a backfill; `stop()` clears the bar. */
export function backfillProgress(stderr: ProgressOutput, everyMs = 5_000) {
  if (stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: 'backfill [{bar}] {value}/{total} {phase}',
        stream: stderr,
        hideCursor: true,
        clearOnComplete: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let phase: BackfillPhase | undefined;
    return {
      update(p: BackfillProgress) {
        if (p.phase !== phase) {
          if (phase !== undefined) bar.stop();
          bar.start(Math.max(p.total, p.done), p.done, { phase: PHASE_LABEL[p.phase] });
          phase = p.phase;
        } else {
          bar.setTotal(Math.max(p.total, p.done));
          bar.update(p.done);
        }
      },
      stop: () => phase !== undefined && bar.stop(),
    };
  }
  let last = 0;
  let phase: BackfillPhase | undefined;
  return {
    update(p: BackfillProgress) {
      const t = Date.now();
      if (p.phase === phase && t - last < everyMs && p.done < p.total) return;
      phase = p.phase;
      last = t;
      stderr.write(`backfill: ${PHASE_LABEL[p.phase]}: ${p.done}/${p.total}\n`);
    },
    stop() {},
  };
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The terminal summary. */
export function renderBackfillSummary(r: BackfillReport): string {
  const scope =
    r.scope.kind === 'range'
      ? `${new Date(r.scope.fromMs).toISOString()} … ${new Date(r.scope.toMs).toISOString()}`
      : plural(r.scope.ids.length, 'conversation');
  const m = r.manifests;
  const lines = [
    `custody backfill ${r.jobId} (${scope})${r.resumed ? ', resumed' : ''}: ${r.ok ? 'done' : 'done with failures'}`,
    r.rescan === null
      ? '  exports: not rescanned (no hour folders to list)'
      : `  exports: ${plural(r.rescan.hours, 'hour folder')} listed, ${plural(r.rescan.published, 'recording')} published that had never been`,
    `  scope: ${plural(r.conversations, 'conversation')}, ${plural(r.recordings, 'recording')}`,
    `  tags reconstructed from analytics (marked reconciled): ${r.reconstruction.published} of ${r.reconstruction.needed} never captured live`,
    `  replay: ${plural(r.replay.records, 'record')} in ${(r.replay.ms / 1000).toFixed(1)} s (${Math.round(r.replay.recordsPerSecond)}/s)`,
    `  manifests: ${m.written} written, ${m.unchanged} already current, ${m.skipped} unchanged inputs, ${m.deadLettered} dead-lettered`,
  ];
  for (const f of r.reconstruction.failed.slice(0, 20))
    lines.push(`  no tags: ${f.conversationId}: ${f.reason}`);
  if (r.reconstruction.failed.length > 20) lines.push(`  … and ${r.reconstruction.failed.length - 20} more`);
  for (const [code, n] of Object.entries(r.deadLetters)) lines.push(`  dead letters: ${n} × ${code}`);
  return `${lines.join('\n')}\n`;
}
