/** `custody verify`: the auditor's check of the export bucket with public keys only. */
import { loadPublicKey } from '../sink/signing-key.ts';
import type { Config } from '../config.ts';
import { describeError, FatalError } from '../runtime/errors.ts';
import { CUSTODY_VERSION } from '../version.ts';

import { s3FromConfig } from './s3-client.ts';

/** `custody verify` options from the command line. */
export type VerifyCliArgs = Readonly<{
  bucket?: string;
  prefix?: string;
  from?: number;
  to?: number;
  conversations?: readonly string[];
  publicKeyFiles: readonly string[];
  json: boolean;
  htmlPath: string | null;
  concurrency: number;
  /** `--pending-grace`, ms (0: strict). */
  pendingGraceMs: number;
}>;

/**
 * Runs `custody verify` (src/verify): audits the export bucket with the public keys only. Resolves with the
 * exit code (0 nothing failed, 1 findings, 69 could not run).
 */
export async function runVerify(config: Config, args: VerifyCliArgs): Promise<number> {
  const { runVerifyCommand } = await import('../verify/verify-command.ts');
  const keyFiles = args.publicKeyFiles.length > 0 ? args.publicKeyFiles : config.sink.trustedKeyFiles;
  if (keyFiles.length === 0)
    throw new FatalError(
      'custody verify needs the public key(s) manifests are signed with: --public-key <pem> (or CUSTODY_TRUSTED_KEY_FILES)',
      { setting: 'CUSTODY_TRUSTED_KEY_FILES' },
    );
  const publicKeys = await Promise.all(
    keyFiles.map((f) =>
      loadPublicKey(f).catch((e: unknown) => {
        throw new FatalError(describeError(e).replace(/^Error: /, ''), { setting: '--public-key' });
      }),
    ),
  );
  const s3 = s3FromConfig(config);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const { code } = await runVerifyCommand(
      {
        s3,
        stdout: process.stdout,
        stderr: process.stderr,
        now: () => new Date(),
        version: CUSTODY_VERSION,
        signal: stop.signal,
      },
      {
        scope: {
          bucket: args.bucket ?? (config.s3.bucket as string),
          prefix: args.prefix ?? config.exports.prefix,
          manifestBucket: config.sink.manifestBucket,
          manifestPrefix: config.sink.manifestPrefix,
          from: args.from,
          to: args.to,
          conversations: args.conversations ? new Set(args.conversations) : undefined,
        },
        publicKeys,
        expectManifestHold: config.sink.legalHold,
        concurrency: args.concurrency,
        json: args.json,
        htmlPath: args.htmlPath,
        pendingGraceMs: args.pendingGraceMs,
      },
    );
    return code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    s3.destroy();
  }
}
