/**
 * `npm run demo`: custody end to end on this machine, no Docker. Starts (or reuses) the local Kafka + S3 servers,
 * runs the Genesys emulator with a few calls at 60x speed, and custody's three roles in this process (the same
 * composition as the end-to-end test, dev/pipeline.ts); waits until every exported recording has a complete
 * manifest, verifies each one as an auditor would, and prints a summary plus an openssl recipe for one manifest.
 * The servers keep running afterwards (`npm run infra:down` stops them). Exit code 0 only if everything verified.
 */
import { generateKeyPairSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { startInfra } from '../infra/local.ts';
import type { ConversationKind } from './emulator/model.ts';
import { scenarioEndingNow, startLocalPipeline } from './pipeline.ts';
import type { RunningLocalPipeline, ScriptedCall, StoredManifest } from './pipeline.ts';
import { verifyStoredManifest } from './pipeline-manifests.ts';
import type { ManifestVerification } from './pipeline-manifests.ts';
import { signingKeyOf } from '../src/sink/signing-key.ts';

const SPEED = 60;
const EXPORT_AFTER_MINUTES = 1;
const TIMEOUT_MS = 60_000;
// Simulated seconds after the scenario start; the first 3 minutes (3 s real) let ingest subscribe first.
const CALLS: readonly ScriptedCall[] = [
  { kind: 'inbound-acd-webrtc', atSeconds: 180, durationSeconds: 90 },
  { kind: 'outbound-webrtc', atSeconds: 195, durationSeconds: 60 },
  { kind: 'blind-transfer', atSeconds: 210, durationSeconds: 120 },
  { kind: 'sip-desk-phone', atSeconds: 225, durationSeconds: 60 },
];
const KIND_LABEL: Partial<Record<ConversationKind, string>> = {
  'inbound-acd-webrtc': 'inbound call, WebRTC softphone',
  'outbound-webrtc': 'outbound call, WebRTC softphone',
  'blind-transfer': 'blind transfer between two WebRTC agents',
  'sip-desk-phone': 'inbound call, SIP desk phone (not WebRTC)',
};

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const demoDir = join(repoRoot, '.infra', 'demo');
const rel = (p: string): string => relative(process.cwd(), p) || '.';
const out = (line = ''): void => void process.stdout.write(`${line}\n`);
const started = Date.now();
const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;

/** The README's openssl recipe for one manifest file (see src/enrich/integrity.ts for what is signed). */
const OPENSSL_RECIPE: ReadonlyArray<[string, string]> = [
  [
    'signed bytes: the file without its "integrity" member',
    `sed -E 's/,"integrity":\\{[^{}]*\\}\\}$/}/' manifest.json > body.bin`,
  ],
  [
    'the signature',
    `sed -E 's/.*,"integrity":\\{[^{}]*"signature":"([^"]*)".*/\\1/' manifest.json | base64 -d > sig.bin`,
  ],
  [
    'integrity.manifest_sha256',
    `sed -E 's/.*,"integrity":\\{[^{}]*"manifest_sha256":"([0-9a-f]{64})".*/\\1/' manifest.json`,
  ],
  ['sha256 of the signed bytes', 'openssl dgst -sha256 -r body.bin'],
  ['Ed25519 signature', 'openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in body.bin -sigfile sig.bin'],
  [
    'key id of pub.pem',
    'openssl pkey -pubin -in pub.pem -outform DER | openssl dgst -sha256 -r | cut -c1-16',
  ],
];

function yesNo(ok: boolean): string {
  return ok ? 'ok' : 'FAILED';
}

function describeRecording(
  p: RunningLocalPipeline,
  m: StoredManifest,
  v: ManifestVerification,
  n: number,
): string[] {
  const w = m.manifest.webrtc;
  const kind = p.emulator.conversations.get(m.conversationId)?.kind;
  const check = (name: string) =>
    v.versions.every((x) => x.report.checks.some((c) => c.name === name && c.ok));
  const objectCheck = (name: string) => v.objects.checks.some((c) => c.name === name && c.ok && !c.skipped);
  const captured = [w.is_webrtc, w.webrtc_session_id, w.client_ip, w.station_id, w.station_type].filter(
    (f) => f.provenance !== 'absent',
  );
  const provenance = [...new Set(captured.map((f) => f.provenance))].join(' and ');
  const capture = m.manifest.chain_of_custody.find(
    (e) =>
      e.event === 'session_tags_captured' &&
      e.evidence !== null &&
      'kafka' in e.evidence &&
      e.detail?.participant_id === w.selection.participant_id,
  );
  const pointer = capture?.evidence && 'kafka' in capture.evidence ? capture.evidence.kafka : undefined;
  return [
    `${n}. ${kind ? (KIND_LABEL[kind] ?? kind) : 'unknown call'}`,
    `   conversation  ${m.conversationId}  recording ${m.recordingId}`,
    `   manifest      s3://${p.bucket}/${m.manifestKey}`,
    `   completeness  ${m.manifest.completeness.status} (manifest version ${m.manifest.manifest_version})`,
    `   webrtc        is_webrtc=${String(w.is_webrtc.value)}  webrtc_session_id=${w.webrtc_session_id.value ?? '-'}`,
    `                 client_ip=${w.client_ip.value ?? '-'}  station=${w.station_id.value ?? '-'} (${w.station_type.value ?? '-'}); captured ${provenance}`,
    `   custody       ${m.manifest.chain_of_custody.length} events` +
      (pointer
        ? `; the leg's tags first captured in Kafka ${pointer.topic} partition ${pointer.partition} offset ${pointer.offset}`
        : ''),
    `   verification  signature ${yesNo(check('signature'))}, manifest hash ${yesNo(check('hash'))}, ` +
      `version chain ${yesNo(check('chain'))}, custody timeline ${yesNo(check('timeline'))}, ` +
      `audio and metadata hashes vs S3 objects ${yesNo(objectCheck('audio-sha256') && objectCheck('metadata-sha256'))}`,
  ];
}

/** One line per custody event: when, by whose clock, what. */
function describeTimeline(m: StoredManifest): string[] {
  return m.manifest.chain_of_custody.map((e) => `  ${e.at}  ${e.time_source.padEnd(16)}  ${e.event}`);
}

/**
 * Runs the recipe in `dir` and checks its answers against the manifest: the hash is integrity.manifest_sha256, the
 * signature verifies, the key id is integrity.key_id. Without openssl on the machine nothing is checked.
 */
function runOpenssl(dir: string, m: StoredManifest): { lines: string[]; ok: boolean } {
  if (spawnSync('openssl', ['version']).status !== 0) {
    return { lines: ['(openssl is not installed here, so this step was skipped)'], ok: true };
  }
  const lines: string[] = [];
  const outputs: string[] = [];
  for (const [what, cmd] of OPENSSL_RECIPE) {
    const r = spawnSync('sh', ['-c', cmd], { cwd: dir, encoding: 'utf8' });
    const text = `${r.stdout}${r.stderr}`.trim();
    if (r.status !== 0) return { lines: [...lines, `${what}: FAILED (${text})`], ok: false };
    outputs.push(text);
    if (text) lines.push(`${what}: ${text}`);
  }
  const [, , recorded = '', digest = '', verified = '', keyId = ''] = outputs;
  const agrees =
    recorded === m.manifest.integrity.manifest_sha256 &&
    digest.startsWith(`${recorded} `) &&
    verified === 'Signature Verified Successfully' &&
    keyId === m.manifest.integrity.key_id;
  lines.push(
    agrees
      ? 'so: the signed bytes hash to integrity.manifest_sha256, the signature verifies, the key id is integrity.key_id'
      : "openssl DISAGREES with the manifest's integrity member",
  );
  return { lines, ok: agrees };
}

async function main(): Promise<number> {
  // The AWS SDK's Node 20 end-of-support notice (see the README's Operations section) is not news here.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  out('custody demo: Genesys emulator -> ingest -> Kafka -> exports watch -> sink -> signed manifests in S3');
  out();
  // The same set as `npm run infra:up`, with the same port overrides.
  const port = (v: string | undefined): number | undefined => (v ? Number(v) : undefined);
  // `npm run demo -- --with-registry`: Confluent-framed records through Apicurio Registry (infra/registry.ts).
  const withRegistry = process.argv.includes('--with-registry');
  const infra = await startInfra({
    name: 'dev',
    kafkaPort: port(process.env['INFRA_KAFKA_PORT']) ?? 9092,
    s3Port: port(process.env['INFRA_S3_PORT']) ?? 7070,
    withRegistry,
    registryPort: port(process.env['INFRA_REGISTRY_PORT']) ?? 8081,
  });
  const registryUrl = withRegistry ? infra.settings.SCHEMA_REGISTRY_URL : undefined;
  out(
    `infra     Kafka ${infra.settings.KAFKA_BROKERS}, S3 ${infra.settings.S3_ENDPOINT}${registryUrl ? `, schema registry ${registryUrl}` : ''}${infra.reused ? ' (already running)' : ' (started)'}`,
  );

  rmSync(demoDir, { recursive: true, force: true });
  mkdirSync(demoDir, { recursive: true });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const signer = signingKeyOf(privateKey);
  const keyFile = join(demoDir, 'signing-key.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(join(demoDir, 'pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  out(`signing   a throwaway Ed25519 key made for this run (key id ${signer.keyId}): ${rel(keyFile)}`);
  out(
    `          .infra/ is git-ignored, so it is never committed; production loads CUSTODY_SIGNING_KEY_FILE`,
  );

  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15).toLowerCase();
  const name = `custody-demo-${stamp}`;
  const logFile = join(demoDir, 'pipeline.log');
  const nowMs = Date.now();
  const scenario = scenarioEndingNow(CALLS, {
    seed: 42,
    speed: SPEED,
    exportAfterMinutes: EXPORT_AFTER_MINUTES,
    nowMs,
  });
  out(
    `scenario  ${CALLS.length} calls at ${SPEED}x speed; Genesys exports each recording ${EXPORT_AFTER_MINUTES} simulated minute after its call`,
  );
  out(`bucket    ${name} (new for this run, versioned, Object Lock)`);
  out(
    `topics    ${name}.{genesys.notifications.v1, custody.session-tags.v1, custody.recording-exports.v1, custody.manifests.v1, custody.dlq.v1}`,
  );
  out(`logs      ${rel(logFile)} (JSON, every component)`);

  const p = await startLocalPipeline({
    infra: infra.settings,
    scenario,
    speed: SPEED,
    exportAfterMinutes: EXPORT_AFTER_MINUTES,
    bucket: name,
    topics: {
      partitions: 3,
      notifications: `${name}.genesys.notifications.v1`,
      eventBridge: `${name}.genesys.eventbridge.v1`,
      sessionTags: `${name}.custody.session-tags.v1`,
      recordingExports: `${name}.custody.recording-exports.v1`,
      legalHolds: `${name}.custody.legal-holds.v1`,
      sinkState: `${name}.custody.sink-state.v1`,
      manifests: `${name}.custody.manifests.v1`,
      dlq: `${name}.custody.dlq.v1`,
    },
    signer,
    name,
    log: pino({ level: 'info' }, pino.destination({ dest: logFile, sync: true })),
    schemaRegistryUrl: registryUrl,
  });
  const stopOnSignal = (): void => {
    out('\ninterrupted: stopping the pipeline (the servers keep running)');
    void p.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  try {
    out();
    out(
      `[${elapsed()}] emulator, ingest, exports watch and sink running; ingest subscribed before the first call`,
    );
    out(
      `[${elapsed()}] waiting for ${p.expectedRecordings()} recordings to be exported and to get complete manifests ...`,
    );
    const manifests = await p.waitForManifests(TIMEOUT_MS);
    out(
      `[${elapsed()}] ${manifests.length} manifests written; verifying each against S3 with the public key only`,
    );
    out();
    const trusted = new Map([[signer.keyId, signer.publicKey]]);
    let allOk = true;
    let shown: StoredManifest | undefined;
    for (const [i, m] of manifests.entries()) {
      const v = await verifyStoredManifest(p.s3, p.bucket, m.manifestKey, trusted);
      allOk &&= v.ok;
      for (const line of describeRecording(p, m, v, i + 1)) out(line);
      out();
      if (m.manifest.webrtc.is_webrtc.value === true && shown === undefined) shown = m;
    }

    if (shown) {
      writeFileSync(join(demoDir, 'manifest.json'), shown.bytes);
      writeFileSync(join(demoDir, 'manifest.pretty.json'), `${JSON.stringify(shown.manifest, null, 2)}\n`);
      out(`One manifest in full (recording ${shown.recordingId}):`);
      out(`  pretty-printed   ${rel(join(demoDir, 'manifest.pretty.json'))}`);
      out(`  exact S3 bytes   ${rel(join(demoDir, 'manifest.json'))}`);
      out('Its chain of custody (time, whose clock, event):');
      for (const line of describeTimeline(shown)) out(line);
      out();
      out(
        'Check it with openssl alone, as in the README (Ed25519 over the RFC 8785 canonical JSON of the manifest',
      );
      out('without "integrity"; pub.pem is the public half of the demo key):');
      out(`  cd ${rel(demoDir)}`);
      for (const [, cmd] of OPENSSL_RECIPE) out(`  ${cmd}`);
      out('Run here, it says:');
      const openssl = runOpenssl(demoDir, shown);
      for (const line of openssl.lines) out(`  ${line}`);
      allOk &&= openssl.ok;
      out();
    }

    // The audit a legal team would run: the real `custody verify` over the whole bucket, public key only.
    const htmlReport = join(demoDir, 'verify-report.html');
    out(
      `[${elapsed()}] custody verify --public-key ${rel(join(demoDir, 'pub.pem'))} (the whole bucket, as counsel would)`,
    );
    const verify = spawnSync(
      process.execPath,
      [
        fileURLToPath(new URL('../bin/custody.js', import.meta.url)),
        'verify',
        '--public-key',
        join(demoDir, 'pub.pem'),
        '--html',
        htmlReport,
      ],
      {
        encoding: 'utf8',
        env: {
          PATH: process.env['PATH'] ?? '',
          HOME: process.env['HOME'] ?? '',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          S3_ENDPOINT: infra.settings.S3_ENDPOINT,
          S3_REGION: infra.settings.S3_REGION,
          AWS_ACCESS_KEY_ID: infra.settings.AWS_ACCESS_KEY_ID,
          AWS_SECRET_ACCESS_KEY: infra.settings.AWS_SECRET_ACCESS_KEY,
          S3_BUCKET: p.bucket,
        },
      },
    );
    for (const line of `${verify.stdout}${verify.stderr}`.trimEnd().split('\n')) out(`  ${line}`);
    allOk &&= verify.status === 0;
    out(`HTML report (open it offline in any browser): ${htmlReport}`);
    out();

    out(
      allOk
        ? `custody demo: OK, every manifest verified (${elapsed()})`
        : 'custody demo: FAILED, a verification failed (see above)',
    );
    return allOk ? 0 : 1;
  } finally {
    await p.stop();
    out('The local Kafka and S3 servers are still running; stop them with:  npm run infra:down');
    out('Point a shell at them with:                eval "$(npm run -s infra:up)"');
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`\ncustody demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.stderr.write(`Details: ${rel(join(demoDir, 'pipeline.log'))} and .infra/dev/{kafka,s3}.log\n`);
    process.exit(1);
  },
);
