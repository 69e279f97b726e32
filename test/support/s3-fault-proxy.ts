/**
 * A fault-injecting reverse proxy in front of an S3 server, for fault tests: a share of requests answered with
 * S3 error bodies (503 SlowDown, 500 InternalError), added latency, reset connections. Requests that pass are
 * forwarded byte for byte with their Host header, so SigV4 signatures made for the proxy's address still verify.
 */
import { createServer, request } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type S3Faults = Readonly<{
  /** Share of requests answered with an error (0..1). */
  errorRate?: number;
  /** Which error: `SlowDown` (503), `InternalError` (500) or `ServiceUnavailable` (503). */
  error?: 'SlowDown' | 'InternalError' | 'ServiceUnavailable';
  /** Share of requests whose connection is reset before any answer (0..1). */
  resetRate?: number;
  /** Added latency in ms, uniform in [min, max]. */
  latencyMs?: readonly [number, number];
}>;

export type S3FaultProxy = Readonly<{
  endpoint: string;
  setFaults(f: S3Faults): void;
  clearFaults(): void;
  stats(): { requests: number; errors: number; resets: number };
  close(): Promise<void>;
}>;

const STATUS = { SlowDown: 503, InternalError: 500, ServiceUnavailable: 503 } as const;

export async function startS3FaultProxy(
  target: string,
  random: () => number = Math.random,
): Promise<S3FaultProxy> {
  const upstream = new URL(target);
  let faults: S3Faults = {};
  const stats = { requests: 0, errors: 0, resets: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    stats.requests++;
    const f = faults;
    const [lo, hi] = f.latencyMs ?? [0, 0];
    const delay = lo + random() * (hi - lo);
    setTimeout(() => {
      if (random() < (f.resetRate ?? 0)) {
        stats.resets++;
        req.socket.destroy();
        return;
      }
      if (random() < (f.errorRate ?? 0)) {
        stats.errors++;
        const code = f.error ?? 'SlowDown';
        req.resume();
        res
          .writeHead(STATUS[code], { 'content-type': 'application/xml' })
          .end(
            `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected by the fault proxy</Message></Error>`,
          );
        return;
      }
      const out = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      out.on('error', () => res.destroy());
      req.pipe(out);
    }, delay);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    setFaults: (f) => {
      faults = f;
    },
    clearFaults: () => {
      faults = {};
    },
    stats: () => ({ ...stats }),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
