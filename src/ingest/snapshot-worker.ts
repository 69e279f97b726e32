/**
 * The snapshot worker thread: owns the held snapshots (snapshot-merge-core.ts does the work). After the messages
 * queued on its port are handled, it replies once with what they merged, so a backlog is sealed in one reply.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SnapshotMergeCore } from './snapshot-merge-core.ts';
import type { FromWorker, SnapshotWorkerData, ToWorker } from './snapshot-worker-protocol.ts';

const port = parentPort;
if (port === null) throw new Error('snapshot-worker.ts runs as a worker thread');
const core = new SnapshotMergeCore(workerData as SnapshotWorkerData);
let replyScheduled = false;

const send = (m: FromWorker): void => {
  if (m.t === 'merged')
    port.postMessage(
      m,
      m.snapshots.map(([, v]) => v.buffer as ArrayBuffer),
    );
  else port.postMessage(m);
};

port.on('message', (m: ToWorker) => {
  const answer = core.handle(m);
  if (answer instanceof Promise) void answer.then(send);
  else if (answer !== undefined) send(answer);
  if (!replyScheduled) {
    replyScheduled = true;
    // setImmediate runs after the port's queued messages are handled: one reply for a backlog.
    setImmediate(() => {
      replyScheduled = false;
      const reply = core.reply();
      if (reply) send(reply);
    });
  }
});
