/**
 * The load generator of `bench:ingest`, in its own process (forked by run.ts), so that producing the load does not
 * share an event loop with the custody ingest being measured. It runs the Genesys emulator — OAuth, REST directory,
 * notification channels and their WebSocket, as custody meets them in production — over a pool of realistic
 * conversation events, and publishes them on command at a fixed rate.
 *
 * IPC protocol (process.send / 'message'):
 *   → { type: 'ready', baseUrl, poolEvents, conversations, users }            once listening
 *   ← { type: 'offer', rate, total }   rate in frames/s, or 0 for "as fast as this process can"
 *   → { type: 'offered', sent, startedAt, finishedAt, behindMsMax, cpuMs }   when all were handed to the socket
 *   ← { type: 'close' }                                                        closes the emulator and exits
 * `behindMsMax` is how far the generator fell behind its own schedule at worst: when it is large, the offered rate
 * was not really offered, and the run says so.
 */
import type { ScriptedEvent } from '../../dev/emulator/model.ts';
import { benchEvents, startBenchEmulator } from './frame-pool.ts';

export type LoadCommand =
  { readonly type: 'offer'; readonly rate: number; readonly total: number } | { readonly type: 'close' };
export type LoadReport =
  | {
      readonly type: 'ready';
      readonly baseUrl: string;
      readonly poolEvents: number;
      readonly conversations: number;
      readonly users: number;
    }
  | {
      readonly type: 'offered';
      readonly sent: number;
      readonly startedAt: number;
      readonly finishedAt: number;
      readonly behindMsMax: number;
      /** CPU time (user + system) this process used during the offer, ms. */
      readonly cpuMs: number;
    };

const send = (m: LoadReport): void => {
  process.send?.(m);
};

async function main(): Promise<void> {
  const emu = await startBenchEmulator();
  // Every topic a user subscription receives, in event-time order.
  const { events: pool, conversations } = benchEvents(emu);
  let next = 0;
  const emit = (): void => {
    const ev = pool[next++ % pool.length] as ScriptedEvent;
    emu.control.emit({ topicName: ev.topicName, eventBody: ev.eventBody });
  };

  /** Paced in 2 ms ticks: emits what the schedule says is due (rate 0: 200 per tick, yielding in between). */
  const offer = async (rate: number, total: number): Promise<void> => {
    const startedAt = Date.now();
    const cpu = process.cpuUsage();
    let sent = 0;
    let behindMsMax = 0;
    while (sent < total) {
      const elapsed = Date.now() - startedAt;
      const due =
        rate > 0 ? Math.min(total, Math.floor((elapsed / 1000) * rate)) : Math.min(total, sent + 200);
      if (rate > 0 && due > sent) behindMsMax = Math.max(behindMsMax, ((due - sent) / rate) * 1000);
      for (; sent < due; sent++) emit();
      if (rate > 0) await new Promise((r) => setTimeout(r, 2));
      else await new Promise((r) => setImmediate(r));
    }
    const used = process.cpuUsage(cpu);
    send({
      type: 'offered',
      sent,
      startedAt,
      finishedAt: Date.now(),
      behindMsMax: Math.round(behindMsMax),
      cpuMs: Math.round((used.user + used.system) / 1000),
    });
  };

  process.on('message', (m: LoadCommand) => {
    if (m.type === 'offer') void offer(m.rate, m.total);
    else
      void emu.close().finally(() => {
        process.disconnect?.();
        process.exit(0);
      });
  });
  process.on('disconnect', () => process.exit(0));
  send({
    type: 'ready',
    baseUrl: emu.baseUrl,
    poolEvents: pool.length,
    conversations,
    users: emu.org.users.length,
  });
}

main().catch((e: unknown) => {
  process.stderr.write(
    `[bench:ingest load] failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  process.exit(1);
});
