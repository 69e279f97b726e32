/** Shared by the interop tests: running the Python consumer and comparing its values with custody's. */
import { spawn } from 'node:child_process';
import { inject } from 'vitest';
import type { SchemaName } from '../../src/kafka/avro-codec.ts';
import { loadCustodySchema } from '../../src/kafka/avro-codec.ts';
import { infra } from '../support/clients.ts';

const CONSUMER = new URL('./consume.py', import.meta.url).pathname;
const SCHEMAS = new URL('../../schemas', import.meta.url).pathname;

/** One record as the Python consumer decoded it. */
export type PythonRecord = {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  headers: Record<string, string>;
  value: unknown;
};

export function interop() {
  return inject('interop');
}

/** Runs test/interop/consume.py on `topics` (topic → schema name); resolves with every record it decoded. */
export async function consumeWithPython(
  topics: ReadonlyMap<string, SchemaName>,
  opts: { registry: boolean; schemas?: string },
): Promise<PythonRecord[]> {
  const args = [CONSUMER, '--bootstrap', infra().KAFKA_BROKERS, '--schemas', opts.schemas ?? SCHEMAS];
  if (opts.registry) args.push('--registry', interop().registryUrl);
  for (const [topic, schema] of topics) args.push('--topic', `${topic}=${schema}`);
  const child = spawn(interop().python, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`the Python consumer exited with ${code}:\n${err.slice(-3000)}`);
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as PythonRecord);
}

/** A value as JSON sees it, with bytes as {"$bytes": base64}, like consume.py prints them. */
export function plain(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return { $bytes: v.toString('base64') };
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

/**
 * What custody meant to write, as the schema carries it: the value custody handed its encoder, projected onto the
 * schema's fields (avsc reads a value's schema fields and ignores any others), as plain JSON.
 */
export function meantAsSchema(schema: SchemaName, value: unknown): unknown {
  const type = loadCustodySchema(schema);
  return plain(type.fromBuffer(type.toBuffer(value)));
}
