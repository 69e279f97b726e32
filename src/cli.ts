/**
 * The `custody` command. Each subcommand is a separate process role (ingest, exports watch, sink, ...)
 * so that each can be deployed and scaled on its own.
 */
import { ConfigError, loadConfig } from './config.ts';
import type { Need } from './config.ts';
import { describeError, isFatal } from './runtime/errors.ts';
import { tuneHeapGrowth } from './runtime/heap-growth.ts';
import { CUSTODY_VERSION } from './version.ts';

const VERSION = CUSTODY_VERSION;

const USAGE = `custody ${VERSION}: chain-of-custody manifests for Genesys Cloud recordings exported to S3

usage: custody <command> [options]

commands:
  config check [--needs genesys,kafka,s3,bucket,signing]
                      validate the configuration and print it (secrets redacted)
  ingest [--source websocket|eventbridge]
                      Genesys notifications -> Kafka (runs until SIGTERM): from the Notification API
                      WebSocket, or from the Kafka topic the EventBridge integration is bridged into
  exports watch [--backfill-from <iso> --backfill-to <iso>]
                      detect recording exports in S3 -> Kafka (runs until SIGTERM); the
                      backfill range also lists hour folders older than the lookback
  exports run (--from <iso> --to <iso> | --resume <jobId>) [--integration-id <id>]
              [--action-date <iso>] [--wait] [--include-screen-recordings]
                      create a Genesys bulk export job, execute it, follow it to FULFILLED/FAILED,
                      and record its facts for the recordings it covers; --wait also publishes
                      the exports when Genesys writes them
  sink                join tags and exports -> signed manifests in S3 (runs until SIGTERM)
  backfill (--from <iso> --to <iso> | --conversations <id,...> | --conversations-file <path>)
           [--job <id>] [--json]
                      rebuild the manifests of past exports: rescan the range's export folders,
                      reconstruct tags never captured live from analytics (marked reconciled), and
                      replay the sink's join in a consumer group of its own; resumable (run it again
                      to continue), idempotent. Run custody backfill --help for details.
  verify [--from <iso> --to <iso> | --conversations <id,...> | --conversations-file <path>]
         [--public-key <pem>]... [--json] [--html <path> | --no-html] [--bucket <name>]
         [--prefix <p/>] [--concurrency <n>] [--pending-grace <minutes>]
                      audit exported recordings and their manifests as opposing counsel would
                      (manifest present, schema, hashes of the objects now, signature with the public
                      key only, hash chain, legal holds); exit 0 nothing failed, 1 findings, 69 could
                      not run. Run custody verify --help for details.
  hold --conversation <id> --matter <id> [--reason <text>] [--actor <who>] [--json]
       [--no-wait] [--timeout <s>] [--no-genesys]
                      place a legal hold on a conversation's recordings for a matter: S3 Object Lock
                      legal hold on audio, metadata and every manifest version (now and for recordings
                      exported later), Genesys deletion protection, and the hold in the manifests;
                      exit 0 done, 1 refused or partly failed, 69 unavailable. custody hold --help
  release --conversation <id> --matter <id> [same options]
                      release a matter's hold; the conversation stays held while another matter holds it
  doctor [--json]     preflight: Genesys OAuth client and its permissions, Kafka and the topics' settings,
                      the S3 bucket (versioning, Object Lock), the signing key (its public key printed),
                      clock skew against Genesys and S3; one line per check with the fix; exit 0 when
                      every check passed, 1 otherwise
  version             print the version

Settings come from environment variables; see the README's configuration table.`;

const NEEDS: readonly Need[] = ['genesys', 'kafka', 's3', 'bucket', 'signing'];

function parseNeeds(arg: string | undefined): Need[] {
  if (!arg) return [];
  const needs = arg.split(',');
  const bad = needs.filter((n) => !NEEDS.includes(n as Need));
  if (bad.length)
    throw new UsageError(`unknown --needs value(s): ${bad.join(', ')} (expected ${NEEDS.join(', ')})`);
  return needs as Need[];
}

class UsageError extends Error {}

function flagValue(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
  return v;
}

function isoTime(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new UsageError(`${flag} takes an ISO-8601 time, got "${v}"`);
  return t;
}

/** Options of `custody exports run`. */
function parseRunArgs(args: readonly string[]) {
  const from = isoTime('--from', flagValue(args, '--from'));
  const to = isoTime('--to', flagValue(args, '--to'));
  const resumeJobId = flagValue(args, '--resume');
  if (resumeJobId === undefined && (from === undefined || to === undefined || from >= to))
    throw new UsageError(
      'custody exports run needs --from <iso> --to <iso> (from before to), or --resume <jobId>',
    );
  if (resumeJobId !== undefined && !/^[A-Za-z0-9-]{1,64}$/.test(resumeJobId))
    throw new UsageError('--resume takes a Genesys job id');
  return {
    from,
    to,
    resumeJobId,
    integrationId: flagValue(args, '--integration-id'),
    actionDate: isoTime('--action-date', flagValue(args, '--action-date')),
    wait: args.includes('--wait'),
    includeScreenRecordings: args.includes('--include-screen-recordings'),
  };
}

/** `--backfill-from <iso> --backfill-to <iso>`: both or neither, from before to. */
function parseBackfill(args: readonly string[]): { from: number; to: number } | undefined {
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? (args[i + 1] ?? '') : undefined;
  };
  const from = value('--backfill-from');
  const to = value('--backfill-to');
  if (from === undefined && to === undefined) return undefined;
  const f = Date.parse(from ?? '');
  const t = Date.parse(to ?? '');
  if (!Number.isFinite(f) || !Number.isFinite(t) || f > t)
    throw new UsageError('--backfill-from and --backfill-to take two ISO-8601 times, from before to');
  return { from: f, to: t };
}

const VERIFY_USAGE = `usage: custody verify [options]

Audits every exported recording under S3_BUCKET (and CUSTODY_EXPORTS_PREFIX) as opposing counsel would:
every recording has a manifest; each manifest version matches schema v1, is canonical, hashes to its integrity
hash and verifies with the public key(s) only; the versions form an unbroken hash chain; the audio and metadata
objects hash now to what the newest manifest records; legal holds match the manifest (and, with
CUSTODY_MANIFEST_LEGAL_HOLD=true, every manifest version is held).

options:
  --from <iso> --to <iso>      only conversations that started in this range (UTC hour of the export layout)
  --conversations <id,...>     only these conversations
  --conversations-file <path>  only the conversations listed in the file (one id per line)
  --public-key <pem>           a trusted public key (repeatable; default CUSTODY_TRUSTED_KEY_FILES)
  --json                       print the JSON report on stdout instead of the summary
  --html <path>                where to write the HTML report (default custody-verify-<time>.html)
  --no-html                    write no HTML report
  --bucket <name>, --prefix <p/>  override S3_BUCKET / CUSTODY_EXPORTS_PREFIX
  --concurrency <n>            recordings audited at once (default 8, at most 64)
  --pending-grace <minutes>    on a live bucket: a recording exported less than this long ago without a manifest
                               yet is counted pending, not a finding (default 0: every one is a finding; the sink
                               needs up to CUSTODY_EXPORTS_PAIR_GRACE_MS plus a scan, so 15 suits the defaults)

exit codes: 0 nothing failed, 1 findings, 69 the audit could not run, 64 usage, 78 configuration.`;

const BACKFILL_USAGE = `usage: custody backfill (--from <iso> --to <iso> | --conversations <id,...> | --conversations-file <path>) [--job <id>] [--json]

Rebuilds the manifests of past exports with the very join the live sink runs, without disturbing it:
  1. lists the export hour folders of the range (for a list: of each conversation's start hour, from analytics)
     and publishes to the exports topic every recording the exports watch never published;
  2. finds the conversations of the scope on the exports topic, and which have captured session tags;
  3. reconstructs the tags of conversations never captured live (before custody ran, or in a gap) from the
     analytics conversation-details API; they are marked reconciled, with the time of reconstruction;
  4. replays the session-tags and exports topics (from CUSTODY_BACKFILL_LOOKBACK_HOURS before the range) through
     the sink's join in its own consumer group, writing a manifest version only where one is missing or differs.

options:
  --from <iso> --to <iso>      recordings whose export hour folder (the conversation's start hour) is in the range
  --conversations <id,...>     these conversations
  --conversations-file <path>  the conversations listed in the file (one id per line)
  --job <id>                   name of the job (default: derived from the scope, so the same command resumes)
  --json                       print the report as JSON on stdout instead of the summary

Interrupted (Ctrl-C, SIGTERM, a crash), the same command continues where it stopped; run again after it
finished, it changes nothing. Without Genesys settings, tags are not reconstructed (the report lists those
conversations). exit codes: 0 done, 1 done with failures (dead letters, analytics unavailable), 64 usage,
78 configuration, 70 could not run.`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const holdUsage = (
  action: 'hold' | 'release',
) => `usage: custody ${action} --conversation <id> --matter <id> [options]

${
  action === 'hold'
    ? `Places a legal hold on every recording of the conversation for the matter: an event on
CUSTODY_TOPIC_LEGAL_HOLDS (compacted, one record per conversation and matter), which custody sink applies as
an S3 Object Lock legal hold on the audio, the Genesys metadata and every manifest version (recordings exported
later are held on arrival) and states in the manifests (legal_hold_status, chain_of_custody); and Genesys
recording deletion protection (PUT /api/v2/recordings/deletionprotection?protect=true).`
    : `Releases the matter's hold. The conversation stays held (Object Lock, Genesys protection) while any other
matter holds it; when the last matter releases, custody sink turns the Object Lock legal holds off (manifest
versions stay held with CUSTODY_MANIFEST_LEGAL_HOLD=true) and Genesys deletion protection is revoked.`
}

options:
  --conversation <id>   the Genesys conversation id (UUID)
  --matter <id>         the legal matter (1-128 of A-Z a-z 0-9 . _ : -)
  --reason <text>       why (recorded in the event and the manifests; at most 1024 characters)
  --actor <who>         who asks (default: the OS user); recorded with custody's instance and version
  --json                print the result as JSON on stdout
  --no-wait             return once the event is recorded instead of waiting for the sink's manifests
  --timeout <s>         how long to wait for the sink (default 120)
  --no-genesys          leave Genesys deletion protection alone (no Genesys settings needed)

exit codes: 0 done, 1 refused or partly failed (the message says what), 69 Kafka/Genesys unavailable or the
sink did not process the event in time (the event, once recorded, is applied when the sink runs), 64 usage,
78 configuration.`;

/** Options of `custody hold|release`. */
async function parseHoldArgs(action: 'hold' | 'release', args: readonly string[]) {
  const { MATTER_ID, MAX_REASON_CHARS, REQUESTER } = await import('./enrich/legal-holds.ts');
  const valued = new Set(['--conversation', '--matter', '--reason', '--actor', '--timeout']);
  const flags = new Set(['--json', '--no-wait', '--wait', '--no-genesys']);
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (valued.has(a)) {
      const v = args[i + 1];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${a} needs a value`);
      i++;
    } else if (!flags.has(a)) {
      throw new UsageError(`custody ${action}: unknown option ${a}; run custody ${action} --help`);
    }
  }
  const conversationId = flagValue(args, '--conversation')?.toLowerCase();
  if (conversationId === undefined || !UUID.test(conversationId))
    throw new UsageError(`custody ${action} needs --conversation <conversation id (UUID)>`);
  const matterId = flagValue(args, '--matter');
  if (matterId === undefined || !MATTER_ID.test(matterId))
    throw new UsageError('--matter takes 1-128 characters of A-Z a-z 0-9 . _ : -');
  const reason = flagValue(args, '--reason') ?? null;
  if (reason !== null && (reason.length > MAX_REASON_CHARS || reason.trim() === ''))
    throw new UsageError(`--reason takes 1-${MAX_REASON_CHARS} characters`);
  let actor = flagValue(args, '--actor');
  if (actor === undefined) {
    const { userInfo } = await import('node:os');
    try {
      actor = userInfo().username;
    } catch {
      throw new UsageError('the OS user is unknown here: give --actor <who>');
    }
  }
  if (!REQUESTER.test(actor)) throw new UsageError('--actor takes 1-256 printable characters');
  const timeout = Number(flagValue(args, '--timeout') ?? '120');
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 86_400)
    throw new UsageError('--timeout takes whole seconds from 1 to 86400');
  return {
    action,
    conversationId,
    matterId,
    reason,
    actor,
    json: args.includes('--json'),
    wait: !args.includes('--no-wait'),
    waitTimeoutMs: timeout * 1000,
    genesys: !args.includes('--no-genesys'),
  };
}

function conversationIds(text: string, source: string): string[] {
  const ids = text
    .split(/[\s,]+/)
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const bad = ids.filter((id) => !UUID.test(id));
  if (bad.length > 0)
    throw new UsageError(`${source}: not a conversation id: ${bad.slice(0, 3).join(', ')}`.slice(0, 300));
  if (ids.length === 0) throw new UsageError(`${source}: no conversation ids`);
  return ids;
}

/** The conversation ids of `--conversations <id,...>` or `--conversations-file <path>` (at most one is given). */
async function listedConversations(
  list: string | undefined,
  file: string | undefined,
): Promise<string[] | undefined> {
  if (list !== undefined) return conversationIds(list, '--conversations');
  if (file === undefined) return undefined;
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(file, 'utf8').catch(() => {
    throw new UsageError(`--conversations-file ${file} cannot be read`);
  });
  return conversationIds(text, `--conversations-file ${file}`);
}

/** Options of `custody backfill`. */
async function parseBackfillArgs(args: readonly string[]) {
  const valued = new Set(['--from', '--to', '--conversations', '--conversations-file', '--job']);
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--json') continue;
    if (!valued.has(a))
      throw new UsageError(`custody backfill: unknown option ${a}; run custody backfill --help`);
    const v = args[i + 1];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${a} needs a value`);
    i++;
  }
  const from = isoTime('--from', flagValue(args, '--from'));
  const to = isoTime('--to', flagValue(args, '--to'));
  const list = flagValue(args, '--conversations');
  const file = flagValue(args, '--conversations-file');
  const given = [from !== undefined || to !== undefined, list !== undefined, file !== undefined].filter(
    Boolean,
  );
  if (given.length !== 1)
    throw new UsageError(
      'custody backfill needs one of --from/--to, --conversations or --conversations-file',
    );
  const { checkJobId, checkScope } = await import('./backfill/backfill-plan.ts');
  const ids = await listedConversations(list, file);
  const scope = checkScope(
    ids !== undefined
      ? { kind: 'conversations', ids }
      : { kind: 'range', fromMs: from ?? NaN, toMs: to ?? NaN },
  );
  if (typeof scope === 'string') throw new UsageError(`custody backfill: ${scope}`);
  const jobId = flagValue(args, '--job');
  const badJob = jobId === undefined ? undefined : checkJobId(jobId);
  if (badJob !== undefined) throw new UsageError(`--job: ${badJob}`);
  return { scope, jobId, json: args.includes('--json') };
}

/** Options of `custody verify`. */
async function parseVerifyArgs(args: readonly string[], now: Date) {
  const known = new Set([
    '--from',
    '--to',
    '--conversations',
    '--conversations-file',
    '--public-key',
    '--json',
    '--html',
    '--no-html',
    '--bucket',
    '--prefix',
    '--concurrency',
    '--pending-grace',
  ]);
  const valued = new Set([
    '--from',
    '--to',
    '--conversations',
    '--conversations-file',
    '--public-key',
    '--html',
    '--bucket',
    '--prefix',
    '--concurrency',
    '--pending-grace',
  ]);
  const publicKeyFiles: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (!known.has(a)) throw new UsageError(`custody verify: unknown option ${a}; run custody verify --help`);
    if (valued.has(a)) {
      const v = args[i + 1];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${a} needs a value`);
      if (a === '--public-key') publicKeyFiles.push(v);
      i++;
    }
  }
  const from = isoTime('--from', flagValue(args, '--from'));
  const to = isoTime('--to', flagValue(args, '--to'));
  if ((from === undefined) !== (to === undefined) || (from !== undefined && to !== undefined && from >= to))
    throw new UsageError('--from and --to go together, from before to');
  const list = flagValue(args, '--conversations');
  const file = flagValue(args, '--conversations-file');
  if ([from !== undefined, list !== undefined, file !== undefined].filter(Boolean).length > 1)
    throw new UsageError('give one of --from/--to, --conversations or --conversations-file');
  const conversations = await listedConversations(list, file);
  const concurrencyText = flagValue(args, '--concurrency') ?? '8';
  const concurrency = Number(concurrencyText);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
    throw new UsageError('--concurrency takes a whole number from 1 to 64');
  const graceMinutes = Number(flagValue(args, '--pending-grace') ?? '0');
  if (!Number.isInteger(graceMinutes) || graceMinutes < 0 || graceMinutes > 24 * 60)
    throw new UsageError('--pending-grace takes a whole number of minutes from 0 to 1440');
  const bucket = flagValue(args, '--bucket');
  if (bucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    throw new UsageError('--bucket takes an S3 bucket name');
  const prefix = flagValue(args, '--prefix');
  if (prefix !== undefined && !/^([A-Za-z0-9!_.*'()-]+\/)*$/.test(prefix))
    throw new UsageError('--prefix takes empty or a key prefix ending in /');
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  return {
    bucket,
    prefix,
    from,
    to,
    conversations,
    publicKeyFiles,
    json: args.includes('--json'),
    htmlPath: args.includes('--no-html')
      ? null
      : (flagValue(args, '--html') ?? `custody-verify-${stamp}.html`),
    concurrency,
    pendingGraceMs: graceMinutes * 60_000,
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case 'version':
    case '--version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case 'config': {
      if (sub !== 'check') throw new UsageError('usage: custody config check [--needs a,b]');
      const i = rest.indexOf('--needs');
      const config = loadConfig(undefined, parseNeeds(i >= 0 ? rest[i + 1] : undefined));
      // Secret serialises as "[redacted]", so printing the whole config is safe.
      process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
      return 0;
    }
    case 'ingest': {
      const source = flagValue(sub === undefined ? [] : [sub, ...rest], '--source');
      if (source !== undefined && source !== 'websocket' && source !== 'eventbridge')
        throw new UsageError('usage: custody ingest [--source websocket|eventbridge]');
      const config = loadConfig(undefined, ['genesys', 'kafka']);
      const { runIngest } = await import('./roles/ingest-role.ts');
      return runIngest(source === undefined ? config : { ...config, ingest: { ...config.ingest, source } });
    }
    case 'exports': {
      if (sub === 'watch') {
        const backfill = parseBackfill(rest);
        const config = loadConfig(undefined, ['kafka', 's3', 'bucket']);
        const { runExportsWatch } = await import('./roles/exports-roles.ts');
        return runExportsWatch(config, backfill);
      }
      if (sub === 'run') {
        const args = parseRunArgs(rest);
        const config = loadConfig(undefined, ['genesys', 'kafka', 's3', 'bucket']);
        const { runExportsJob } = await import('./roles/exports-roles.ts');
        return runExportsJob(config, args);
      }
      throw new UsageError('usage: custody exports watch|run [options]; run custody --help');
    }
    case 'sink': {
      const config = loadConfig(undefined, ['kafka', 's3', 'bucket', 'signing']);
      const { runSink } = await import('./roles/sink-role.ts');
      return runSink(config);
    }
    case 'hold':
    case 'release': {
      const args = [sub, ...rest].filter((a): a is string => a !== undefined);
      if (args.includes('--help') || args.includes('-h')) {
        process.stdout.write(`${holdUsage(cmd)}\n`);
        return 0;
      }
      const parsed = await parseHoldArgs(cmd, args);
      const config = loadConfig(undefined, parsed.genesys ? ['kafka', 'genesys'] : ['kafka']);
      const { runHold } = await import('./roles/hold-role.ts');
      return runHold(config, parsed);
    }
    case 'doctor': {
      const args = [sub, ...rest].filter((a): a is string => a !== undefined);
      if (args.includes('--help') || args.includes('-h')) {
        process.stdout.write(
          'usage: custody doctor [--json]\n\nChecks every setting and dependency custody needs, one line per check with the fix.\nexit codes: 0 every check passed, 1 a check failed, 78 configuration invalid.\n',
        );
        return 0;
      }
      const unknown = args.filter((a) => a !== '--json');
      if (unknown.length > 0) throw new UsageError(`custody doctor: unknown option ${unknown[0]}`);
      const config = loadConfig(undefined, []);
      const { runDoctor } = await import('./roles/doctor-role.ts');
      return runDoctor(config, { json: args.includes('--json') });
    }
    case 'backfill': {
      const args = [sub, ...rest].filter((a): a is string => a !== undefined);
      if (args.includes('--help') || args.includes('-h')) {
        process.stdout.write(`${BACKFILL_USAGE}\n`);
        return 0;
      }
      const parsed = await parseBackfillArgs(args);
      const config = loadConfig(undefined, ['kafka', 's3', 'signing']);
      const { runBackfillCommand } = await import('./roles/backfill-role.ts');
      return runBackfillCommand(config, parsed);
    }
    case 'verify': {
      const args = [sub, ...rest].filter((a): a is string => a !== undefined);
      if (args.includes('--help') || args.includes('-h')) {
        process.stdout.write(`${VERIFY_USAGE}\n`);
        return 0;
      }
      const parsed = await parseVerifyArgs(args, new Date());
      const config = loadConfig(undefined, parsed.bucket ? ['s3'] : ['s3', 'bucket']);
      const { runVerify } = await import('./roles/verify-role.ts');
      return runVerify(config, parsed);
    }
    default:
      throw new UsageError(`unknown command "${cmd}"; run custody --help`);
  }
}

export async function runCli(argv: readonly string[]): Promise<void> {
  // Before any role allocates: V8's own heap growth ran a full GC every ~150 ms in ingest (heap-growth.ts).
  tuneHeapGrowth();
  try {
    process.exitCode = await main(argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      // Config problems are the operator's to fix: the list of names, no stack trace.
      process.stderr.write(`custody: ${e.message}\n`);
      process.exitCode = 78;
    } else if (e instanceof UsageError) {
      process.stderr.write(`custody: ${e.message}\n`);
      process.exitCode = 64;
    } else {
      // Anything else is one line too (never a stack trace): the roles log their own failures, so only errors
      // before a role started (a module that fails to load, an unreadable key file) reach this point.
      process.stderr.write(`custody: ${describeError(e)}\n`);
      process.exitCode = isFatal(e) ? 78 : 70;
    }
  }
  // A client that keeps a timer or socket open must not keep a stopped process alive.
  setTimeout(() => process.exit(), 5_000).unref();
}
