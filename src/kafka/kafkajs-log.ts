/**
 * The level at which a kafkajs log line is written to custody's log.
 *
 * kafkajs logs every error response of the broker at ERROR, also the retriable ones it then retries itself: a group
 * coordinator still loading, a leader moving, a topic just created. A cold start or a broker restart wrote such lines
 * at `error` although nothing failed, against the roles' rule that a wait is one line when it starts (custody's own
 * `<what>: waiting` line) and an `error` is worth an alert. Those responses are logged at `debug`; if kafkajs gives
 * up, its caller's error still reaches custody's log. So is kafkajs's "Topic creation errors" answer to CreateTopics,
 * which several roles starting at once get when another created a topic first: the line names no topic and no
 * cause, and ensureTopics (topics.ts) counts "already exists" as created and throws any other, so a real failure
 * reaches the log as custody's own line. Everything else keeps its level.
 */
import { createRequire } from 'node:module';
import { logLevel } from 'kafkajs';

type ErrorCode = { message: string; retriable: boolean };

let retriable: ReadonlySet<string> | undefined;

/** The messages of the broker error codes kafkajs retries (from its own table; none when it cannot be read). */
function retriableMessages(): ReadonlySet<string> {
  if (retriable === undefined) {
    try {
      const { errorCodes } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
        errorCodes: readonly ErrorCode[];
      };
      retriable = new Set(errorCodes.filter((c) => c.retriable).map((c) => c.message));
    } catch {
      retriable = new Set(); // another kafkajs layout: every line keeps its level
    }
  }
  return retriable;
}

export type KafkajsLine = Readonly<{ level: number; namespace: string; message: string; error?: unknown }>;

export function kafkajsLogLevel(line: KafkajsLine): 'error' | 'warn' | 'info' | 'debug' {
  if (line.level > logLevel.ERROR) return line.level === logLevel.WARN ? 'warn' : 'info';
  if (
    line.namespace !== 'Connection' ||
    !line.message.startsWith('Response ') ||
    typeof line.error !== 'string'
  )
    return 'error';
  const handledByCaller =
    retriableMessages().has(line.error) ||
    (line.message.startsWith('Response CreateTopics(') && line.error === 'Topic creation errors');
  return handledByCaller ? 'debug' : 'error';
}
