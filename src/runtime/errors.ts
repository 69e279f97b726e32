/**
 * One classification of every error custody meets at its edges (Kafka, S3, Genesys, the network), so every role
 * answers the same way: a retriable error is retried with backoff while the role reports not ready; a fatal one
 * ends the process with one line naming the setting or permission to fix.
 */

/** An error the operator must fix (bad credentials, missing permission, a port in use): retrying cannot help. */
export class FatalError extends Error {
  /** The setting (environment variable) or permission to look at, when one is known. */
  readonly setting: string | undefined;
  constructor(message: string, opts: { setting?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'FatalError';
    this.setting = opts.setting;
  }
}

/** Raised when a wait or retry loop is given up because the process is shutting down. */
export class ShutdownError extends Error {
  constructor(what: string) {
    super(`${what}: shutting down`);
    this.name = 'ShutdownError';
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND', // a compose service name that does not resolve yet
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ESOCKETTIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** S3 error names that clear by themselves: throttling, server trouble, a bucket that is not created yet. */
const S3_RETRIABLE = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'TimeoutError',
  'NoSuchBucket',
  'OperationAborted',
]);

/** S3/Kafka answers that mean custody is not allowed to do its job: the operator must fix credentials or policy. */
const PERMISSION = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'AllAccessDisabled',
  'KafkaJSSASLAuthenticationError',
]);

const KAFKA_FATAL_TYPES = new Set([
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_SASL_MECHANISM',
]);

type ErrorLike = {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  type?: unknown;
  status?: unknown;
  retriable?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  cause?: unknown;
  errors?: unknown;
};

function asErrorLike(e: unknown): ErrorLike | undefined {
  return typeof e === 'object' && e !== null ? (e as ErrorLike) : undefined;
}

/** The error and its causes (and an aggregate's members), outermost first, bounded against cycles. */
export function errorChain(e: unknown): unknown[] {
  const out: unknown[] = [];
  const queue: unknown[] = [e];
  while (queue.length > 0 && out.length < 16) {
    const next = queue.shift();
    if (next === undefined || out.includes(next)) continue;
    out.push(next);
    const like = asErrorLike(next);
    if (like?.cause !== undefined) queue.push(like.cause);
    if (Array.isArray(like?.errors)) queue.push(...(like.errors as unknown[]).slice(0, 4));
  }
  return out;
}

/** True when an operator must act: credentials, permissions, or a FatalError custody raised itself. */
export function isFatal(e: unknown): boolean {
  return errorChain(e).some((x) => {
    if (x instanceof FatalError) return true;
    const like = asErrorLike(x);
    if (!like) return false;
    if (typeof like.name === 'string' && PERMISSION.has(like.name)) return true;
    if (typeof like.type === 'string' && KAFKA_FATAL_TYPES.has(like.type)) return true;
    const status = httpStatus(like);
    // 401/403 from Genesys or S3: wrong credentials or a missing permission.
    return status === 401 || status === 403;
  });
}

function httpStatus(like: ErrorLike): number | undefined {
  const s = like.$metadata?.httpStatusCode ?? like.status;
  return typeof s === 'number' ? s : undefined;
}

/**
 * True when waiting and trying again can succeed: Kafka's retriable errors (leader moves, coordinator loads,
 * unknown topic right after creation, lost connections), network errors, HTTP 429 and 5xx, S3 throttling and a
 * bucket that does not exist yet. Fatal errors are never retriable.
 */
export function isRetriable(e: unknown): boolean {
  if (isFatal(e)) return false;
  return errorChain(e).some((x) => {
    const like = asErrorLike(x);
    if (!like) return false;
    if (like.retriable === true || like.$retryable !== undefined) return true;
    const name = typeof like.name === 'string' ? like.name : '';
    if (name === 'KafkaJSNumberOfRetriesExceeded' || name === 'KafkaJSConnectionError') return true;
    if (name === 'KafkaJSConnectionClosedError' || name === 'KafkaJSRequestTimeoutError') return true;
    if (name === 'KafkaJSBrokerNotFound' || name === 'KafkaJSMetadataNotLoaded') return true;
    if (name === 'KafkaJSLockTimeout' || name === 'KafkaJSGroupCoordinatorNotFound') return true;
    if (S3_RETRIABLE.has(name)) return true;
    if (typeof like.code === 'string' && NETWORK_CODES.has(like.code)) return true;
    const status = httpStatus(like);
    return status === 429 || (status !== undefined && status >= 500);
  });
}

/**
 * One line describing an error for logs and exit messages: its name, message and code, and the innermost
 * cause's message. Never a stack trace, never a payload.
 */
export function describeError(e: unknown): string {
  const chain = errorChain(e);
  const text = (x: unknown): string => {
    if (x instanceof Error) {
      const code = (x as { code?: unknown }).code;
      const suffix = typeof code === 'string' && !x.message.includes(code) ? ` (${code})` : '';
      return `${x.name}: ${x.message}${suffix}`;
    }
    // An error that crossed a boundary as plain data (kafkajs event payloads, worker messages): not "[object Object]".
    const like = asErrorLike(x);
    if (like && typeof like.message === 'string')
      return typeof like.name === 'string' ? `${like.name}: ${like.message}` : like.message;
    return String(x);
  };
  const first = text(chain[0]);
  const root = chain.length > 1 ? text(chain[chain.length - 1]) : undefined;
  const line = root && !first.includes(root) ? `${first}; cause: ${root}` : first;
  return line.replace(/\s*\n\s*/g, ' ').slice(0, 1000);
}
