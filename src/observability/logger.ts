/**
 * JSON logs on stdout (pino). Secrets are `Secret` objects that serialise as "[redacted]"; the redaction
 * paths below are a second line of defence for tokens and credentials that arrive as plain strings
 * (SDK errors, HTTP headers). Log ids and codes, never payload bodies.
 */
import { pino } from 'pino';
import type { Logger } from 'pino';
import { describeError } from '../runtime/errors.ts';

export type { Logger };

const REDACT = [
  '*.authorization',
  '*.Authorization',
  '*.access_token',
  '*.accessToken',
  '*.clientSecret',
  '*.client_secret',
  '*.password',
  '*.secretAccessKey',
  '*.headers.authorization',
  '*.headers.Authorization',
  'err.config.headers',
  'err.response.headers.authorization',
];

export function createLogger(opts: {
  level: string;
  instance: string;
  destination?: pino.DestinationStream;
}): Logger {
  return pino(
    {
      level: opts.level,
      base: { service: 'custody', instance: opts.instance },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: '[redacted]' },
      // One line per error, never a stack trace: logs are read by operators and kept with the evidence.
      serializers: { err: (e: unknown) => ({ message: describeError(e) }) },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination,
  );
}

/**
 * A component's logger, named with `stage` unless the logger it derives from names one already: pino does not merge
 * bindings, so a role's `stage` and a component's would both be written, one JSON key twice (and, for
 * `custody exports run`, with two values).
 */
export function componentLogger(parent: Logger, stage: string, bindings: Record<string, unknown>): Logger {
  return parent.child(parent.bindings()['stage'] === undefined ? { stage, ...bindings } : bindings);
}
