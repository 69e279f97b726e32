/**
 * `custody verify`: audits the bucket, prints the summary (or the JSON report), writes the HTML report, and
 * answers with an exit code: 0 nothing failed, 1 findings, 69 the audit could not run.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import cliProgress from 'cli-progress';
import { AuditSummary } from '../enrich/audit.ts';
import type { VerifyReport } from '../enrich/audit.ts';
import { keyIdFor } from '../enrich/integrity.ts';
import { describeError } from '../runtime/errors.ts';
import { compileManifestJsonSchema } from './manifest-json-schema.ts';
import { verifyBucket, VerifyUnavailableError } from './s3-verify.ts';
import type { VerifyScope } from './s3-verify.ts';
import { renderHtml, renderSummary } from './verify-report.ts';

export const VERIFY_EXIT = { ok: 0, findings: 1, unavailable: 69 } as const;

export type VerifyArgs = Readonly<{
  scope: VerifyScope;
  publicKeys: readonly KeyObject[];
  expectManifestHold: boolean;
  concurrency: number;
  json: boolean;
  /** Where to write the HTML report; null: none. */
  htmlPath: string | null;
  /**
   * A recording without a manifest whose export was written less than this long ago is pending, not a finding
   * (`--pending-grace`); 0 or unset: every recording without a manifest is a finding.
   */
  pendingGraceMs?: number;
}>;

export type VerifyDeps = Readonly<{
  s3: S3Client;
  stdout: NodeJS.WritableStream;
  /** Progress and notes; a TTY gets a progress bar, anything else a line every `progressEveryMs`. */
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  now: () => Date;
  version: string;
  signal?: AbortSignal;
  progressEveryMs?: number;
}>;

/** A progress bar (cli-progress) on a TTY, else a plain line every `progressEveryMs`. */
export function progressReporter(deps: Pick<VerifyDeps, 'stderr' | 'now' | 'progressEveryMs'>) {
  if (deps.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: 'verify [{bar}] {value}/{total} recordings | {objects} objects listed{more}',
        stream: deps.stderr,
        hideCursor: true,
        clearOnComplete: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    let total = 0;
    return {
      update(p: { listed: number; audited: number; listingDone: boolean }, seen: number) {
        total = Math.max(total, seen);
        const payload = { objects: p.listed, more: p.listingDone ? '' : ' (listing…)' };
        if (!started) {
          bar.start(total, p.audited, payload);
          started = true;
        } else {
          bar.setTotal(total);
          bar.update(p.audited, payload);
        }
      },
      stop: () => started && bar.stop(),
    };
  }
  const every = deps.progressEveryMs ?? 5_000;
  let last = deps.now().getTime();
  return {
    update(p: { listed: number; audited: number; listingDone: boolean }, seen: number) {
      const t = deps.now().getTime();
      if (t - last < every) return;
      last = t;
      deps.stderr.write(
        `verify: ${p.audited}/${seen} recordings audited, ${p.listed} objects listed${p.listingDone ? '' : ' (listing)'}\n`,
      );
    },
    stop() {},
  };
}

/** Runs the audit; resolves with the report and the exit code. Never prints a stack trace. */
export async function runVerifyCommand(
  deps: VerifyDeps,
  args: VerifyArgs,
): Promise<{ code: number; report?: VerifyReport }> {
  const summary = new AuditSummary();
  const publicKeys = new Map(args.publicKeys.map((k) => [keyIdFor(k), k]));
  const progress = progressReporter(deps);
  let seen = 0;
  let objectLock: boolean;
  const grace = args.pendingGraceMs ?? 0;
  try {
    ({ objectLock } = await verifyBucket(deps.s3, args.scope, {
      publicKeys,
      pendingAfter: grace > 0 ? deps.now().getTime() - grace : undefined,
      expectManifestHold: args.expectManifestHold,
      jsonSchema: compileManifestJsonSchema(),
      concurrency: args.concurrency,
      signal: deps.signal,
      onRecording: (a) => {
        summary.add(a);
        seen = Math.max(seen, summary.counts.recordings);
      },
      onProgress: (p) => progress.update(p, Math.max(seen, p.audited)),
    }));
  } catch (e) {
    progress.stop();
    // Any failure to read (bucket gone, access denied, network) means no verdict: one line, no stack trace.
    const why = e instanceof VerifyUnavailableError ? e.message : describeError(e);
    deps.stderr.write(`custody verify: could not run: ${why}\n`);
    return { code: VERIFY_EXIT.unavailable };
  }
  progress.stop();
  const s = args.scope;
  const report = summary.report({
    version: deps.version,
    generatedAt: deps.now().toISOString(),
    scope: {
      bucket: s.bucket,
      prefix: s.prefix,
      manifestBucket: s.manifestBucket ?? s.bucket,
      manifestPrefix: s.manifestPrefix ?? '',
      from: s.from === undefined ? null : new Date(s.from).toISOString(),
      to: s.to === undefined ? null : new Date(s.to).toISOString(),
      conversations: s.conversations ? [...s.conversations].sort() : null,
      publicKeyIds: [...publicKeys.keys()],
      objectLock,
      expectManifestHold: args.expectManifestHold,
      pendingGraceMinutes: grace > 0 ? grace / 60_000 : null,
    },
  });
  let htmlPath: string | undefined;
  if (args.htmlPath !== null) {
    htmlPath = resolve(args.htmlPath);
    try {
      await writeFile(htmlPath, renderHtml(report), 'utf8');
    } catch {
      deps.stderr.write(`custody verify: the HTML report cannot be written to ${htmlPath}\n`);
      htmlPath = undefined;
    }
  }
  if (args.json) {
    deps.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    if (htmlPath) deps.stderr.write(`HTML report: ${htmlPath}\n`);
  } else {
    deps.stdout.write(renderSummary(report, { htmlPath }));
  }
  return { code: report.ok ? VERIFY_EXIT.ok : VERIFY_EXIT.findings, report };
}
