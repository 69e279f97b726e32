/**
 * The snapshot worker thread: owns the held snapshots (snapshot-merge-core.ts does the work). It replies with what
 * it merged at most every REPLY_LINGER_MS, after the messages queued on its port are handled, so a backlog is sealed
 * in one reply.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SnapshotMergeCore } from './snapshot-merge-core.ts';
import type { FromWorker, SnapshotWorkerData, ToWorker } from './snapshot-worker-protocol.ts';

const port = parentPort;
if (port === null) throw new Error('snapshot-worker.ts runs as a worker thread');
const core = new SnapshotMergeCore(workerData as SnapshotWorkerData);
let replyScheduled = false;
/** As the delivery buffer's linger: a frame waits at most this long for the worker to answer before it is queued. */
const REPLY_LINGER_MS = 2;

/**
 * postMessage copies at once: snapshots posted as objects are the held ones, which the next merge changes. Encoded
 * ones are in a buffer of their own, moved rather than copied.
 */
const send = (m: FromWorker): void =>
  m.t === 'merged' && m.encoded ? port.postMessage(m, [m.encoded.bytes.buffer]) : port.postMessage(m);

port.on('message', (m: ToWorker) => {
  const answer = core.handle(m);
  if (answer instanceof Promise) void answer.then(send);
  else if (answer !== undefined) send(answer);
  if (!replyScheduled) {
    replyScheduled = true;
    // One reply for what arrives within REPLY_LINGER_MS (and for a backlog): fewer, larger replies cost both threads
    // less, and a conversation's snapshot changed by several frames in that time is written once.
    setTimeout(() => {
      replyScheduled = false;
      const reply = core.reply();
      if (reply) send(reply);
    }, REPLY_LINGER_MS);
  }
});
