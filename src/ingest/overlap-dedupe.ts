/**
 * Removes the duplicates that overlapping sockets produce. During a channel rotation (socket_closing) the
 * old and the new channel are both subscribed for a moment and each receives the same events. A frame is a
 * duplicate when the same topic and event body already arrived on a *different* channel within the window;
 * repeats on one channel are what Genesys sent and stay in the evidence log.
 *
 * The comparison ignores the envelope's CorrelationId: whether it is per event or per delivery is
 * UNCONFIRMED (genesys.md §2.7), so the body decides.
 *
 * Two channels can carry one topic only after a subscription request (a replacement channel after socket_closing),
 * so cross-channel checks run only while armed: from each `arm` (called as a request starts) for one
 * window. Outside it no frame is hashed, which saves two SHA-256 passes per frame in steady operation. A source
 * that redelivers at any time (EventBridge) keeps it armed for good (`alwaysArmed`). This assumes Genesys sends an
 * event to the channels subscribed when it is sent, not to one subscribed after it (UNCONFIRMED; were it otherwise,
 * a copy received on the old channel before the request would not be recognised, and both would be kept).
 */
import { hash } from 'node:crypto';

/**
 * The digest a body is remembered by: its own SHA-256, then the topic's beside it, hashed again. One-shot hashes (no
 * Hash object per frame), and the body (a slice of the frame's text) is hashed where it lies instead of first being
 * copied into a `topic\0body` string (~4.5 KB of garbage per frame). Kept in memory only, so its form is free.
 */
function digestOf(topicName: string, bodyText: string): string {
  return hash('sha256', `${topicName}\0${hash('sha256', bodyText, 'base64')}`, 'base64');
}

export class OverlapDedupe {
  readonly #windowMs: number;
  readonly #maxEntries: number;
  /** digest → first channel and arrival time; Map keeps insertion order, so the oldest entries expire first. */
  readonly #seen = new Map<string, { channelId: string; at: number }>();
  /** Frames received up to this time are checked; -Infinity until armed, +Infinity when always armed. */
  #armedUntil: number;

  constructor(opts: { windowMs?: number; maxEntries?: number; alwaysArmed?: boolean } = {}) {
    this.#windowMs = opts.windowMs ?? 5 * 60_000;
    this.#maxEntries = opts.maxEntries ?? 200_000;
    this.#armedUntil = opts.alwaysArmed ? Infinity : -Infinity;
  }

  /**
   * A second channel may receive what another already does from `at` on (on the frames' clock): check and remember
   * frames for one window from then.
   */
  arm(at: number): void {
    this.#armedUntil = Math.max(this.#armedUntil, at + this.#windowMs);
  }

  /**
   * Whether a frame received at `at` is checked: callers skip extracting its body when not. Past the armed window
   * no overlap is possible any more, so what is remembered can no longer be repeated on another channel: forgotten.
   */
  checks(at: number): boolean {
    if (at <= this.#armedUntil) return true;
    if (this.#seen.size > 0) this.#seen.clear();
    return false;
  }

  /** Returns true when this frame is a cross-channel duplicate that must not be written again. */
  isDuplicate(topicName: string, bodyText: string, channelId: string, at: number): boolean {
    if (!this.checks(at)) return false;
    this.#expire(at);
    const digest = digestOf(topicName, bodyText);
    const first = this.#seen.get(digest);
    if (first && first.channelId !== channelId) return true;
    if (!first) this.#seen.set(digest, { channelId, at });
    return false;
  }

  /**
   * Returns true when the same topic and body already arrived within the window, on any channel: for a source that
   * delivers at least once (EventBridge), where a repeat is a redelivery, not something Genesys sent twice. Runs
   * whether armed or not; a dedupe that serves EventBridge is built `alwaysArmed`, so WebSocket frames are checked
   * against its events too.
   */
  seenBefore(topicName: string, bodyText: string, at: number): boolean {
    this.#expire(at);
    const digest = digestOf(topicName, bodyText);
    if (this.#seen.has(digest)) return true;
    this.#seen.set(digest, { channelId: '', at });
    return false;
  }

  #expire(now: number): void {
    for (const [k, v] of this.#seen) {
      if (now - v.at <= this.#windowMs && this.#seen.size <= this.#maxEntries) break;
      this.#seen.delete(k);
    }
  }
}
