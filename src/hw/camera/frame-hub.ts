import { performance } from 'node:perf_hooks';
import { createLogger } from '../../util/logger.js';
import type { Frame, FrameConsumer, FrameSource } from './types.js';

const log = createLogger('camera.hub');

interface Slot {
  consumer: FrameConsumer;
  busy: boolean;
  /** The newest frame published while the consumer was busy; older ones are simply overwritten (dropped). */
  pending?: Frame;
  dropped: number;
  delivered: number;
  passive: boolean;
}

/**
 * Fans preview frames out to any number of consumers. Every consumer receives the very same Buffer (no copy per
 * consumer). A consumer that is still busy with a frame has at most one frame waiting: memory per consumer is
 * bounded by one frame, whatever the client's speed.
 */
export class FrameHub implements FrameSource {
  private last?: Frame;
  private seq = 0;
  private readonly slots = new Set<Slot>();
  private readonly subscriberListeners = new Set<(count: number) => void>();

  publish(data: Buffer, placeholder = false): Frame {
    const frame: Frame = {
      data,
      seq: ++this.seq,
      at: performance.now(),
      ...(placeholder ? { placeholder: true } : {}),
    };
    this.last = frame;
    for (const slot of this.slots) this.offer(slot, frame);
    return frame;
  }

  latest(): Frame | undefined {
    return this.last;
  }

  /** Forget the last frame (the camera went away: a stale image must not pass for live). */
  clear(): void {
    this.last = undefined;
  }

  /** Active subscribers only: passive ones (live face detection) ride along but never keep the preview running. */
  get subscriberCount(): number {
    let n = 0;
    for (const s of this.slots) if (!s.passive) n++;
    return n;
  }

  subscribe(consumer: FrameConsumer, opts: { passive?: boolean } = {}): () => void {
    const slot: Slot = { consumer, busy: false, dropped: 0, delivered: 0, passive: opts.passive === true };
    this.slots.add(slot);
    this.notifyCount();
    return () => {
      if (this.slots.delete(slot)) this.notifyCount();
    };
  }

  /** Called with the new subscriber count whenever it changes (the driver wakes the preview on demand). */
  onSubscribers(listener: (count: number) => void): () => void {
    this.subscriberListeners.add(listener);
    return () => this.subscriberListeners.delete(listener);
  }

  stats(): { subscribers: number; delivered: number; dropped: number } {
    let delivered = 0;
    let dropped = 0;
    for (const s of this.slots) {
      delivered += s.delivered;
      dropped += s.dropped;
    }
    return { subscribers: this.slots.size, delivered, dropped };
  }

  private notifyCount(): void {
    const count = this.subscriberCount;
    for (const l of this.subscriberListeners) {
      try {
        l(count);
      } catch (e) {
        log.error('subscriber listener failed', { error: e });
      }
    }
  }

  private offer(slot: Slot, frame: Frame): void {
    if (slot.busy) {
      if (slot.pending) slot.dropped++;
      slot.pending = frame;
      return;
    }
    this.deliver(slot, frame);
  }

  private deliver(slot: Slot, frame: Frame): void {
    let r: void | Promise<void>;
    try {
      r = slot.consumer(frame);
    } catch (e) {
      log.warn('frame consumer failed', { error: e });
      return;
    }
    slot.delivered++;
    if (!r || typeof (r as Promise<void>).then !== 'function') return;
    slot.busy = true;
    const done = () => {
      slot.busy = false;
      const next = slot.pending;
      slot.pending = undefined;
      if (next && this.slots.has(slot)) this.deliver(slot, next);
    };
    (r as Promise<void>).then(done, (e: unknown) => {
      log.warn('frame consumer failed', { error: e });
      done();
    });
  }
}
