/**
 * A minimal notification WebSocket client for tests: connects to a `connectUri`, keeps every parsed
 * message in arrival order and waits for messages or for the close. Not a capture client — custody's own
 * ingest is what the emulator exists to test.
 */
import { WebSocket } from 'ws';

export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

export interface NotificationSocket {
  /** Every message received so far (JSON-parsed; raw text when not JSON). */
  readonly messages: readonly unknown[];
  /** Settles when the socket closes (with or without a close frame; 1006 = no close frame). */
  readonly closed: Promise<CloseInfo>;
  isOpen(): boolean;
  send(message: unknown): void;
  /** Resolves with the first message (already received or future) matching `pred`, from index `from`. */
  waitFor(pred: (m: unknown) => boolean, opts?: { timeoutMs?: number; from?: number }): Promise<unknown>;
  close(): void;
}

/** Connects and resolves once the socket is open. */
export function connectNotifications(connectUri: string): Promise<NotificationSocket> {
  const ws = new WebSocket(connectUri);
  const messages: unknown[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    const text = data.toString();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // keep the raw text
    }
    messages.push(parsed);
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<CloseInfo>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const w of [...waiters]) w();
    });
  });
  const socket: NotificationSocket = {
    messages,
    closed,
    isOpen: () => ws.readyState === WebSocket.OPEN,
    send: (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)),
    waitFor(pred, opts = {}) {
      const timeoutMs = opts.timeoutMs ?? 2_000;
      return new Promise((resolve, reject) => {
        let i = opts.from ?? 0;
        const check = (): boolean => {
          for (; i < messages.length; i++) {
            if (pred(messages[i])) {
              resolve(messages[i]);
              return true;
            }
          }
          return false;
        };
        if (check()) return;
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no matching message within ${timeoutMs} ms (${messages.length} received)`));
        }, timeoutMs);
        const waiter = () => {
          if (check()) {
            clearTimeout(timer);
            waiters.delete(waiter);
          }
        };
        waiters.add(waiter);
      });
    },
    close: () => ws.close(),
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(socket));
    ws.once('error', reject);
  });
}

/** True when `m` is an envelope (or control message) with this `topicName`. */
export function hasTopic(topicName: string): (m: unknown) => boolean {
  return (m) =>
    typeof m === 'object' && m !== null && (m as Record<string, unknown>)['topicName'] === topicName;
}
