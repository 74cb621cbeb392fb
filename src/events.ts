import { createLogger } from './util/logger.js';

/**
 * The typed event map. Each module adds its own events by declaration merging, next to the code that emits them:
 *
 *   declare module '../events.js' {
 *     interface PinholeEvents { 'camera.state': CameraStatus }
 *   }
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging in each module
export interface PinholeEvents {}

export type EventName = keyof PinholeEvents & string;
export type Listener<K extends EventName> = (payload: PinholeEvents[K]) => void | Promise<void>;

const log = createLogger('events');

/**
 * In-process event bus. A listener that throws (or rejects) is logged and does not stop the other listeners or
 * crash the daemon: one broken consumer, e.g. a WebSocket client, must never take the camera down.
 */
export class EventBus {
  private readonly listeners = new Map<string, Set<Listener<never>>>();

  on<K extends EventName>(event: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  once<K extends EventName>(event: K, listener: Listener<K>): () => void {
    const off = this.on(event, (payload) => {
      off();
      return listener(payload);
    });
    return off;
  }

  off<K extends EventName>(event: K, listener: Listener<K>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>);
  }

  emit<K extends EventName>(event: K, payload: PinholeEvents[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        const r = (listener as Listener<K>)(payload);
        if (r && typeof (r as Promise<void>).catch === 'function') {
          (r as Promise<void>).catch((e: unknown) => log.error('listener failed', { event, error: e }));
        }
      } catch (e) {
        log.error('listener failed', { event, error: e });
      }
    }
  }

  listenerCount(event: EventName): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  /** Resolves with the next payload of `event` (optionally matching `filter`), or rejects after `timeoutMs`. */
  waitFor<K extends EventName>(
    event: K,
    timeoutMs: number,
    filter?: (p: PinholeEvents[K]) => boolean,
  ): Promise<PinholeEvents[K]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`timed out waiting for ${event}`));
      }, timeoutMs);
      const off = this.on(event, (p) => {
        if (filter && !filter(p)) return;
        clearTimeout(timer);
        off();
        resolve(p);
      });
    });
  }
}
