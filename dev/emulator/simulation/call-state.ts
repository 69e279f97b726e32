/**
 * The mutable model of one call conversation while a script is being generated: its participant legs
 * (one participant = one call leg; the same user may have several) and a timeline of scheduled changes.
 * `run` applies the changes in time order and reports every distinct instant, so the event builders can
 * publish the full conversation after each change, as the platform does.
 */
import type { SimStation } from '../model.ts';
import { WRAPUP_CODE_ID } from './conventions.ts';

export type CallState =
  'offering' | 'alerting' | 'dialing' | 'contacting' | 'connected' | 'disconnected' | 'terminated';
export type Purpose = 'customer' | 'external' | 'ivr' | 'acd' | 'agent' | 'user';
export type Direction = 'inbound' | 'outbound';

export interface Endpoint {
  readonly name?: string;
  readonly addressRaw: string;
  readonly addressNormalized: string;
  readonly addressDisplayable: string;
}

/** One participant with its single call (communication). */
export interface Leg {
  readonly participantId: string;
  /** `calls[].id`, the communication id. */
  readonly communicationId: string;
  readonly purpose: Purpose;
  readonly direction: Direction;
  readonly name: string;
  /** Participant address (the number or SIP URI of this side). */
  readonly address: string;
  readonly self: Endpoint;
  readonly other: Endpoint;
  readonly initialState: CallState;
  readonly startTime: number;
  readonly ani: string;
  readonly dnis: string;
  readonly userId?: string;
  readonly queueId?: string;
  readonly station?: SimStation;
  /** Set once at construction (mutable only so two legs can point at each other). */
  peerId?: string;
  readonly publicIpAddress?: string;
  readonly alertingTimeoutMs?: number;
  /** Analytics-only: SIP Call-ID and the Edge that handled the media. */
  readonly protocolCallId: string;
  readonly edgeId: string;
  state: CallState;
  connectedTime?: number;
  disconnectedTime?: number;
  disconnectType?: string;
  terminatedTime?: number;
  held: boolean;
  confined: boolean;
  startHoldTime?: number;
  recording: boolean;
  recordingState: 'none' | 'active';
  consultParticipantId?: string;
  wrapupRequired: boolean;
  /** After-call work of an agent leg: from its disconnect to its termination, then the wrap-up applied. */
  startAcwTime?: number;
  endAcwTime?: number;
  wrapup?: { readonly code: string; readonly durationSeconds: number; readonly endTime: number };
  /** Hold intervals (customer on hold during a consult), for analytics segments and durations. */
  readonly holds: Array<{ start: number; end?: number }>;
}

export function isUserLeg(leg: Leg): boolean {
  return leg.purpose === 'agent' || leg.purpose === 'user';
}

export function isEnded(state: CallState | undefined): boolean {
  return state === 'disconnected' || state === 'terminated';
}

interface Change {
  readonly at: number;
  readonly seq: number;
  readonly apply: () => void;
}

/** Before/after view of one instant, handed to the emitter. */
export interface Instant {
  readonly at: number;
  /** State of every leg before the instant's changes (undefined: the leg had not joined yet). */
  readonly before: ReadonlyMap<string, CallState | undefined>;
}

export class CallConversation {
  readonly legs: Leg[] = [];
  recordingState: 'none' | 'active' = 'none';
  private readonly changes: Change[] = [];

  readonly conversationId: string;
  constructor(conversationId: string) {
    this.conversationId = conversationId;
  }

  /** Schedules a change; changes at the same instant apply in scheduling order. */
  at(at: number, apply: () => void): void {
    this.changes.push({ at, seq: this.changes.length, apply });
  }

  /** Schedules the leg to join at its startTime. */
  join(leg: Leg): Leg {
    this.at(leg.startTime, () => this.legs.push(leg));
    return leg;
  }

  connect(leg: Leg, at: number, recorded: boolean): void {
    this.at(at, () => {
      leg.state = 'connected';
      leg.connectedTime = at;
      if (recorded) {
        leg.recording = true;
        leg.recordingState = 'active';
        this.recordingState = 'active';
      }
      if (leg.purpose === 'agent') leg.wrapupRequired = true;
    });
  }

  disconnect(leg: Leg, at: number, disconnectType: string): void {
    this.at(at, () => {
      leg.state = 'disconnected';
      leg.disconnectedTime = at;
      leg.disconnectType = disconnectType;
      if (leg.held || leg.confined) this.unhold(leg, at);
      if (leg.wrapupRequired) leg.startAcwTime = at;
    });
  }

  terminate(leg: Leg, at: number): void {
    this.at(at, () => {
      leg.state = 'terminated';
      leg.terminatedTime = at;
      if (leg.startAcwTime !== undefined) {
        leg.endAcwTime = at;
        leg.wrapup = {
          code: WRAPUP_CODE_ID,
          durationSeconds: Math.round((at - leg.startAcwTime) / 1000),
          endTime: at,
        };
      }
    });
  }

  /**
   * The agent puts the customer on hold from `at` until {@link resume}: as on the real platform the agent's leg is
   * `held` with `startHoldTime`, and the customer's is `confined` (hearing hold music).
   */
  hold(customer: Leg, agent: Leg, at: number): void {
    this.at(at, () => {
      customer.confined = true;
      customer.holds.push({ start: at });
      agent.held = true;
      agent.startHoldTime = at;
    });
  }

  resume(customer: Leg, agent: Leg, at: number): void {
    this.at(at, () => {
      this.unhold(customer, at);
      this.unhold(agent, at);
    });
  }

  private unhold(leg: Leg, at: number): void {
    leg.confined = false;
    leg.held = false;
    delete leg.startHoldTime;
    const open = leg.holds.find((h) => h.end === undefined);
    if (open) open.end = at;
  }

  /** Applies every change in time order, calling `emit` once per distinct instant, after its changes. */
  run(emit: (instant: Instant) => void): void {
    const sorted = [...this.changes].sort((a, b) => a.at - b.at || a.seq - b.seq);
    let i = 0;
    while (i < sorted.length) {
      const at = sorted[i]?.at ?? 0;
      const before = new Map<string, CallState | undefined>();
      for (const leg of this.legs) before.set(leg.participantId, leg.state);
      while (i < sorted.length && sorted[i]?.at === at) {
        sorted[i]?.apply();
        i++;
      }
      for (const leg of this.legs)
        if (!before.has(leg.participantId)) before.set(leg.participantId, undefined);
      emit({ at, before });
    }
  }
}
