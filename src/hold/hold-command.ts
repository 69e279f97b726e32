/**
 * `custody hold` / `custody release`: places (or releases) a legal hold on a conversation for one matter.
 *
 * 1. Reads the conversation's holds from the legal-holds topic (a release needs to know whether other matters
 *    still hold the conversation; releasing a matter that does not hold it is refused).
 * 2. Genesys recording deletion protection: applied on hold; revoked on release only when no other matter still
 *    holds the conversation (skipped with `--no-genesys`).
 * 3. Produces the event, keyed `{conversationId}/{matterId}`, to the conversation's partition, and waits for the
 *    broker's acknowledgement: from then on the hold is durable and every sink instance applies it, to the
 *    recordings exported so far and to any exported later.
 * 4. With `--wait` (the default), waits until the sink has processed the event (its group committed past it:
 *    the manifests were written, with the S3 Object Lock holds, before that commit) and lists the manifest
 *    versions it announced.
 *
 * Exit codes (like custody verify): 0 done; 1 refused or partly failed (e.g. Genesys refused the protection; the
 * hold event is then still recorded, and the message says so); 69 Kafka/Genesys unavailable or the sink did not
 * process the event in time.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import cliProgress from 'cli-progress';
import { otherHoldingMatters, matterHolds } from '../enrich/legal-holds.ts';
import type { LegalHoldEvent, ManifestWritten } from '../kafka/avro-codec.ts';
import { conversationPartition, legalHoldKey } from '../kafka/partitioning.ts';
import type { RecordEncoder } from '../kafka/record-codecs.ts';
import type { RecordProducer } from '../kafka/record-producer.ts';
import { backoffDelay, DEFAULT_BACKOFF, sleep } from '../runtime/backoff.ts';
import type { BackoffPolicy } from '../runtime/backoff.ts';
import { describeError, isRetriable } from '../runtime/errors.ts';
import type { DeletionProtectionApi } from './hold-genesys.ts';
import { manifestsAnnounced, partitionEnd, readConversationHolds, sinkProcessed } from './hold-kafka.ts';

export const HOLD_EXIT = { ok: 0, failed: 1, unavailable: 69 } as const;

export type HoldArgs = Readonly<{
  action: 'hold' | 'release';
  conversationId: string;
  matterId: string;
  reason: string | null;
  actor: string;
  json: boolean;
  wait: boolean;
  waitTimeoutMs: number;
  genesys: boolean;
}>;

export type HoldDeps = Readonly<{
  kafka: Kafka;
  producer: RecordProducer;
  codecs: Readonly<{
    legalHold: RecordEncoder<LegalHoldEvent> & {
      decode(bytes: Buffer): LegalHoldEvent | Promise<LegalHoldEvent>;
    };
    manifestWritten: { decode(bytes: Buffer): ManifestWritten | Promise<ManifestWritten> };
  }>;
  /** Undefined: not configured (the command then needs --no-genesys). */
  genesys: DeletionProtectionApi | undefined;
  topics: Readonly<{ legalHolds: string; manifests: string }>;
  sinkGroupId: string;
  instance: string;
  version: string;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  now: () => number;
  signal?: AbortSignal;
  /** Bound of the retries of one step (Kafka or Genesys unavailable). */
  retryForMs?: number;
  retryPolicy?: BackoffPolicy;
  progressEveryMs?: number;
}>;

/** What the command did (the `--json` output). */
export type HoldResult = {
  ok: boolean;
  action: 'hold' | 'release';
  conversationId: string;
  matterId: string;
  requestId: string | null;
  event: { topic: string; partition: number; offset: string } | null;
  /** Matters holding the conversation after this command (as far as the legal-holds topic says). */
  heldBy: string[];
  genesys: {
    status: 'protected' | 'unprotected' | 'kept-protected' | 'skipped' | 'failed';
    recordingIds: string[];
    detail: string | null;
  };
  sink: {
    status: 'processed' | 'not-waited' | 'timed-out';
    manifests: Array<{ recordingId: string; key: string; manifestVersion: number; versionId: string | null }>;
  };
  message: string;
};

class Unavailable extends Error {}

/** Steps: a bar on a TTY, else one line per step and a line every `progressEveryMs` while waiting. */
function progress(deps: HoldDeps, command: string, quiet: boolean) {
  const steps = 4;
  if (deps.stderr.isTTY && !quiet) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${command} [{bar}] {value}/{total} {step}`,
        stream: deps.stderr,
        hideCursor: true,
        clearOnComplete: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(steps, 0, { step: 'starting' });
    return {
      step: (n: number, text: string) => bar.update(n, { step: text }),
      waiting: (text: string) => bar.update({ step: text }),
      stop: () => bar.stop(),
    };
  }
  const every = deps.progressEveryMs ?? 5_000;
  let last = deps.now();
  return {
    step: (n: number, text: string) => {
      last = deps.now();
      deps.stderr.write(`${command}: [${n}/${steps}] ${text}\n`);
    },
    waiting: (text: string) => {
      if (deps.now() - last < every) return;
      last = deps.now();
      deps.stderr.write(`${command}: ${text}\n`);
    },
    stop: () => undefined,
  };
}

/** Runs `fn`, retrying retriable failures with backoff for at most `retryForMs`; then it is unavailable. */
async function retrying<T>(what: string, fn: () => Promise<T>, deps: HoldDeps): Promise<T> {
  const until = deps.now() + (deps.retryForMs ?? 60_000);
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isRetriable(e)) throw e;
      if (deps.now() >= until || deps.signal?.aborted) throw new Unavailable(`${what}: ${describeError(e)}`);
      await sleep(backoffDelay(attempt, deps.retryPolicy ?? DEFAULT_BACKOFF), deps.signal);
    }
  }
}

export async function runHoldCommand(
  deps: HoldDeps,
  args: HoldArgs,
): Promise<Readonly<{ code: number; result: HoldResult }>> {
  const command = `custody ${args.action}`;
  const result: HoldResult = {
    ok: false,
    action: args.action,
    conversationId: args.conversationId,
    matterId: args.matterId,
    requestId: null,
    event: null,
    heldBy: [],
    genesys: { status: 'skipped', recordingIds: [], detail: null },
    sink: { status: 'not-waited', manifests: [] },
    message: '',
  };
  const finish = (code: number, message: string) => {
    result.ok = code === HOLD_EXIT.ok;
    result.message = message;
    if (args.json) deps.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else deps.stdout.write(`${command}: ${message}\n`);
    return { code, result };
  };
  const bar = progress(deps, command, args.json && !deps.stderr.isTTY);
  const admin = deps.kafka.admin();
  try {
    await retrying('Kafka', () => admin.connect(), deps);

    // 1. What the legal-holds topic says about the conversation.
    bar.step(1, 'reading the conversation’s holds');
    const read = await retrying(
      'Kafka',
      () =>
        readConversationHolds(
          deps.kafka,
          admin,
          deps.topics.legalHolds,
          args.conversationId,
          deps.codecs.legalHold,
          deps.signal,
        ),
      deps,
    );
    const others = otherHoldingMatters(read.holds, args.matterId);
    const mine = matterHolds(read.holds).find((m) => m.matter === args.matterId);
    if (args.action === 'release' && mine?.status !== 'on') {
      bar.stop();
      return finish(
        HOLD_EXIT.failed,
        mine === undefined
          ? `matter ${args.matterId} does not hold conversation ${args.conversationId}; nothing released`
          : `matter ${args.matterId} already released conversation ${args.conversationId}`,
      );
    }
    result.heldBy = args.action === 'hold' ? [...new Set([...others, args.matterId])].sort() : others;

    // 2. Genesys deletion protection.
    let genesysFailure: string | undefined;
    let protection: LegalHoldEvent['genesysDeletionProtection'] = null;
    if (!args.genesys) {
      result.genesys = { status: 'skipped', recordingIds: [], detail: '--no-genesys' };
    } else if (args.action === 'release' && others.length > 0) {
      result.genesys = {
        status: 'kept-protected',
        recordingIds: [],
        detail: `still held by ${others.join(', ')}`,
      };
    } else {
      // A Genesys failure never keeps the hold (or release) from being recorded: the S3 side is what custody
      // enforces; the command then ends with 1 and says what Genesys did not do.
      const api = deps.genesys;
      const protect = args.action === 'hold';
      bar.step(2, `${protect ? 'applying' : 'revoking'} Genesys deletion protection`);
      let recordingIds: string[] = [];
      try {
        if (api === undefined) throw new Error('Genesys is not configured (GENESYS_*; or pass --no-genesys)');
        recordingIds = await retrying('Genesys', () => api.recordingIds(args.conversationId), deps);
        const refused = await retrying(
          'Genesys',
          () => api.setProtection(args.conversationId, protect),
          deps,
        );
        if (refused === undefined) {
          protection = { protect, recordingIds, appliedAtMs: deps.now() };
          result.genesys = { status: protect ? 'protected' : 'unprotected', recordingIds, detail: null };
        } else {
          genesysFailure = `Genesys refused deletion protection: ${refused}`;
          result.genesys = { status: 'failed', recordingIds, detail: refused };
        }
      } catch (e) {
        const why = e instanceof Unavailable ? e.message : describeError(e);
        genesysFailure = `Genesys deletion protection failed: ${why}`;
        result.genesys = { status: 'failed', recordingIds, detail: why };
      }
    }

    // 3. The event, acknowledged by the broker.
    bar.step(3, 'recording the hold event');
    const manifestsPartitions = (
      await retrying('Kafka', () => admin.fetchTopicOffsets(deps.topics.manifests), deps)
    ).length;
    const manifestsPartition = conversationPartition(args.conversationId, manifestsPartitions);
    const manifestsFrom = await retrying(
      'Kafka',
      () => partitionEnd(admin, deps.topics.manifests, manifestsPartition),
      deps,
    );
    const event: LegalHoldEvent = {
      action: args.action,
      conversationId: args.conversationId,
      matterId: args.matterId,
      reason: args.reason,
      requestedBy: args.actor,
      requestedAtMs: deps.now(),
      requestId: randomUUID(),
      instance: deps.instance,
      version: deps.version,
      genesysDeletionProtection: protection,
    };
    result.requestId = event.requestId;
    const partition = conversationPartition(args.conversationId, read.partitions);
    const [meta] = await retrying(
      'Kafka',
      () =>
        deps.producer.send([
          {
            topic: deps.topics.legalHolds,
            key: legalHoldKey(args.conversationId, args.matterId),
            value: deps.codecs.legalHold.encode(event),
            partition,
          },
        ]),
      deps,
    );
    const offset = meta?.baseOffset ?? meta?.offset;
    if (offset === undefined) throw new Unavailable('Kafka acknowledged the event without an offset');
    result.event = { topic: deps.topics.legalHolds, partition, offset };

    // 4. The sink applies it.
    if (args.wait) {
      bar.step(4, 'waiting for the sink to write the manifests');
      const deadline = deps.now() + args.waitTimeoutMs;
      for (;;) {
        const done = await retrying(
          'Kafka',
          () => sinkProcessed(admin, deps.sinkGroupId, deps.topics.legalHolds, partition, offset),
          deps,
        );
        if (done) break;
        if (deps.now() >= deadline) {
          result.sink.status = 'timed-out';
          bar.stop();
          return finish(
            HOLD_EXIT.unavailable,
            `the ${args.action} is recorded (${deps.topics.legalHolds} partition ${partition} offset ${offset}) but sink group ${deps.sinkGroupId} did not process it within ${Math.round(args.waitTimeoutMs / 1000)} s: is custody sink running? It applies the ${args.action} when it gets there.`,
          );
        }
        bar.waiting(`waiting for sink group ${deps.sinkGroupId}`);
        await sleep(500, deps.signal);
      }
      result.sink.status = 'processed';
      const written = await retrying(
        'Kafka',
        () =>
          manifestsAnnounced(
            deps.kafka,
            admin,
            deps.topics.manifests,
            args.conversationId,
            manifestsFrom,
            deps.codecs.manifestWritten,
            deps.signal,
          ),
        deps,
      );
      result.sink.manifests = written.map((w) => ({
        recordingId: w.recordingId,
        key: w.key,
        manifestVersion: w.manifestVersion,
        versionId: w.versionId,
      }));
    }
    bar.stop();
    const held = result.heldBy.length > 0 ? `held by ${result.heldBy.join(', ')}` : 'no longer held';
    const manifests =
      result.sink.status === 'processed'
        ? result.sink.manifests.length > 0
          ? `; ${result.sink.manifests.length} manifest version(s) written`
          : '; no recording exported yet (recordings exported later get the hold on arrival)'
        : '';
    if (genesysFailure !== undefined) {
      return finish(
        HOLD_EXIT.failed,
        `${args.action} recorded, but ${genesysFailure}; conversation ${held}${manifests}`,
      );
    }
    return finish(HOLD_EXIT.ok, `conversation ${args.conversationId} ${held}${manifests}`);
  } catch (e) {
    bar.stop();
    const why = e instanceof Unavailable ? e.message : describeError(e);
    deps.stderr.write(`${command}: could not complete: ${why}\n`);
    return finish(
      e instanceof Unavailable || isRetriable(e) ? HOLD_EXIT.unavailable : HOLD_EXIT.failed,
      `could not complete: ${why}${result.event === null ? ' (no hold event recorded)' : ' (the hold event is recorded)'}`,
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
