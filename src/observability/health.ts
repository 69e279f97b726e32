/**
 * /healthz (the process is alive), /readyz (it is doing its job: connected and not overflowing) and
 * /metrics (Prometheus text) on one small HTTP server.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { FatalError } from '../runtime/errors.ts';

export interface Readiness {
  /** Undefined when ready, else the reason (shown in the /readyz body). */
  notReadyReason(): string | undefined;
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHealthServer(opts: {
  port: number;
  registry: Registry;
  readiness: Readiness;
  /** The setting that chose the port, named when the port cannot be bound. */
  portSetting?: string;
}): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const reason = opts.readiness.notReadyReason();
      res
        .writeHead(reason ? 503 : 200, { 'content-type': 'text/plain' })
        .end(reason ? `not ready: ${reason}\n` : 'ready\n');
    } else if (path === '/metrics') {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE' || e.code === 'EACCES'
          ? new FatalError(
              `port ${opts.port} for /healthz, /readyz and /metrics is ${e.code === 'EADDRINUSE' ? 'in use by another process' : 'not allowed'}; set ${opts.portSetting ?? 'CUSTODY_HTTP_PORT'} to a free port (0 picks one)`,
              { setting: opts.portSetting ?? 'CUSTODY_HTTP_PORT', cause: e },
            )
          : e,
      ),
    );
    server.listen(opts.port, '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
