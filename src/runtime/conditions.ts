/**
 * A role's readiness as a set of named conditions ("waiting for Kafka", "consumer restarting"). /readyz is ready
 * only when none is set; each change is logged once, so an outage is two log lines, not one per retry.
 */
import type { Logger } from '../observability/logger.ts';

export class Conditions {
  readonly #active = new Map<string, string>();
  readonly #log: Logger;
  constructor(log: Logger) {
    this.#log = log;
  }

  /** Marks the role not ready for `name`, with a reason shown on /readyz. */
  set(name: string, reason: string): void {
    const had = this.#active.get(name);
    this.#active.set(name, reason);
    if (had === undefined) this.#log.warn({ condition: name, reason }, 'not ready');
  }

  clear(name: string): void {
    if (this.#active.delete(name)) {
      this.#log.info({ condition: name, remaining: this.#active.size }, 'condition cleared');
    }
  }

  /** Undefined when ready, else every active reason. */
  notReadyReason(): string | undefined {
    return this.#active.size === 0 ? undefined : [...this.#active.values()].join('; ');
  }
}
