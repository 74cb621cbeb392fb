import { ConflictError, errorMessage, ValidationError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';

/** Modes that wait for something (a smile, a gesture) after being armed, then take one photo. */
export const ARMED_MODES = ['smile-shutter', 'gesture-shutter'] as const;
export type ArmedModeName = (typeof ARMED_MODES)[number];

/**
 * What the viewfinder and `pinhole mode status` show. `state`: `idle` (nothing armed), `armed` (watching),
 * `countdown` (gesture seen, self-timer running), `capturing`. `message` says why the last mode ended.
 */
export interface ModeState {
  mode: ArmedModeName | 'best-shot' | null;
  state: 'idle' | 'armed' | 'countdown' | 'capturing';
  /** Who armed it: 'button', 'web', 'cli'. */
  source?: string;
  /** Epoch ms. */
  armedAt?: number;
  expiresAt?: number;
  /** Smile shutter: faces in the last analysed frame, how many smile, and the run of all-smiling frames. */
  smiling?: { smiling: number; total: number; streak: number; needed: number; threshold: number };
  /** Gesture shutter: a raised hand is seen now. */
  handRaised?: boolean;
  /** Seconds left on the self-timer. */
  countdown?: number;
  message?: string;
  /** The photo the mode took. */
  photoId?: string;
}

declare module '../events.js' {
  interface PinholeEvents {
    /** Every change of the armed capture mode (the viewfinder shows it). */
    'capture.mode': ModeState;
  }
}

/** What an armed mode may do while it watches. */
export interface ModeContext {
  /** Progress for the viewfinder (smiling count, raised hand, countdown). */
  update(patch: Partial<Pick<ModeState, 'smiling' | 'handRaised' | 'countdown'>>): void;
  /** The self-timer started: the timeout no longer applies. */
  countdown(seconds: number): void;
  /**
   * Take the photo now (synchronously issues the capture: nothing may stand between the decision and the camera).
   * `record` goes into the photo's sidecar under `mode` (e.g. when the first smiling frame arrived).
   */
  fire(record?: Record<string, unknown>): void;
}

/**
 * One armed mode: a strategy that watches events (analysed frames, poses) and decides when to shoot. `start` may
 * throw (e.g. face analysis unavailable): arming then fails with that error.
 */
export interface ArmedMode {
  readonly name: ArmedModeName;
  readonly title: string;
  start(ctx: ModeContext): void;
  /** Stops watching; idempotent. */
  stop(): void;
  timeoutMs(): number;
  /** Why it disarmed itself after timeoutMs, e.g. "nobody smiled (2 of 3 at best)". */
  timeoutReason(): string;
}

export interface CaptureModesDeps {
  modes: ArmedMode[];
  /** Takes one photo through the normal capture path; resolves with its id. `record` is the mode's sidecar entry. */
  capture: (source: string, record: ModeRecord) => Promise<{ id: string }>;
  emit: (state: ModeState) => void;
  now?: () => number;
}

/** What a photo taken by an armed mode records in its sidecar (`mode`). */
export interface ModeRecord {
  name: ArmedModeName;
  /** performance.now() when the capture was requested. */
  firedAt: number;
  [key: string]: unknown;
}

const log = createLogger('capture.modes');

/**
 * At most one armed mode at a time: arming another replaces it, a second arm of the same mode restarts its timeout.
 * The coordinator owns the timeout, the capture call and the messages; the modes own only their decision.
 */
export class CaptureModes {
  private current?: { mode: ArmedMode; state: ModeState; timer?: NodeJS.Timeout; fired: boolean };
  private last: ModeState = { mode: null, state: 'idle' };
  private readonly now: () => number;

  constructor(private readonly deps: CaptureModesDeps) {
    this.now = deps.now ?? Date.now;
  }

  status(): ModeState {
    return { ...(this.current?.state ?? this.last) };
  }

  mode(name: string): ArmedMode {
    const m = this.deps.modes.find((x) => x.name === name);
    if (!m) throw new ValidationError(`unknown capture mode "${name}" (one of: ${ARMED_MODES.join(', ')})`);
    return m;
  }

  arm(name: string, source: string): ModeState {
    const mode = this.mode(name);
    if (this.current?.state.state === 'capturing' || this.current?.state.state === 'countdown')
      throw new ConflictError(`${this.current.mode.title} is about to take its photo`);
    this.end(undefined);
    const at = this.now();
    const cur: NonNullable<CaptureModes['current']> = {
      mode,
      state: { mode: mode.name, state: 'armed', source, armedAt: at, expiresAt: at + mode.timeoutMs() },
      fired: false,
    };
    this.current = cur;
    try {
      mode.start(this.context(cur));
    } catch (e) {
      this.current = undefined;
      mode.stop();
      throw e;
    }
    cur.timer = setTimeout(() => this.timeout(cur), mode.timeoutMs());
    log.info('armed', { mode: mode.name, source, timeoutMs: mode.timeoutMs() });
    this.publish(cur.state);
    return this.status();
  }

  disarm(message = 'disarmed'): ModeState {
    const cur = this.current;
    if (!cur) return this.status();
    if (cur.state.state === 'capturing') throw new ConflictError('the photo is being taken');
    log.info('disarmed', { mode: cur.mode.name, message });
    this.end(`${cur.mode.title} ${message}`);
    return this.status();
  }

  /** Stops every mode (daemon shutdown). */
  stop(): void {
    if (this.current && this.current.state.state !== 'capturing') this.end(undefined);
  }

  private context(cur: NonNullable<CaptureModes['current']>): ModeContext {
    const live = () => this.current === cur && !cur.fired;
    return {
      update: (patch) => {
        if (!live()) return;
        cur.state = { ...cur.state, ...patch };
        this.publish(cur.state);
      },
      countdown: (seconds) => {
        if (!live()) return;
        if (cur.timer) clearTimeout(cur.timer);
        cur.timer = undefined;
        const { expiresAt: _e, ...rest } = cur.state;
        cur.state = { ...rest, state: 'countdown', countdown: seconds };
        this.publish(cur.state);
      },
      fire: (record) => {
        if (!live()) return;
        cur.fired = true;
        if (cur.timer) clearTimeout(cur.timer);
        const source = cur.state.source ?? 'mode';
        // The capture starts before anything else happens (logging, events): this is the shutter.
        const shot = this.deps.capture(source, { name: cur.mode.name, firedAt: performance.now(), ...record });
        cur.mode.stop();
        cur.state = { ...cur.state, state: 'capturing', countdown: undefined };
        this.publish(cur.state);
        shot.then(
          (photo) => this.finish(cur, { message: `${cur.mode.title}: photo taken`, photoId: photo.id }),
          (e: unknown) => this.finish(cur, { message: `${cur.mode.title}: the photo failed: ${errorMessage(e)}` }),
        );
      },
    };
  }

  private finish(cur: NonNullable<CaptureModes['current']>, end: { message: string; photoId?: string }): void {
    log.info('mode done', { mode: cur.mode.name, ...end });
    if (this.current !== cur) return;
    this.current = undefined;
    this.last = { mode: cur.mode.name, state: 'idle', ...end };
    this.publish(this.last);
  }

  private timeout(cur: NonNullable<CaptureModes['current']>): void {
    if (this.current !== cur || cur.fired || cur.state.state !== 'armed') return;
    const message = `${cur.mode.title} disarmed after ${Math.round(cur.mode.timeoutMs() / 1000)} s: ${cur.mode.timeoutReason()}`;
    log.info('timed out', { mode: cur.mode.name, message });
    this.end(message);
  }

  /** Ends the current mode (if any) without a photo. */
  private end(message: string | undefined): void {
    const cur = this.current;
    if (!cur) return;
    if (cur.timer) clearTimeout(cur.timer);
    cur.mode.stop();
    this.current = undefined;
    this.last = { mode: cur.mode.name, state: 'idle', ...(message ? { message } : {}) };
    this.publish(this.last);
  }

  private publish(state: ModeState): void {
    this.deps.emit({ ...state });
  }
}
