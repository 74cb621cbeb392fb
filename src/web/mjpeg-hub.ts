import type { ServerResponse } from 'node:http';
import { UnavailableError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import type { WebCamera } from './services.js';

const log = createLogger('web.mjpeg');
const BOUNDARY = 'pinholeframe';
/**
 * A client whose socket still holds this much unsent data gets no new frame: it skips frames instead of
 * growing a buffer, and never delays the other viewers (each write goes to its own socket, nobody waits).
 */
const MAX_PENDING_BYTES = 256 * 1024;
const PART_END = Buffer.from('\r\n');

/** A part's header: built once per frame and shared by every viewer. */
function partHead(length: number, seq: number): Buffer {
  return Buffer.from(
    `--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${length}\r\nX-Frame-Seq: ${seq}\r\n\r\n`,
  );
}

interface Viewer {
  res: ServerResponse;
  sent: number;
  dropped: number;
}

export type FrameWrittenProbe = (seq: number, handedAtNs: bigint, writtenAtNs: bigint) => void;

/**
 * Fans the preview out to `/stream.mjpg` viewers. Subscribes to the camera only while someone watches. The same
 * frame Buffer is written to every socket (no copy per viewer).
 */
export class MjpegHub {
  private readonly viewers = new Set<Viewer>();
  private unsubscribe?: () => void;
  private seq = 0;
  /** Bench hook: called when a frame's bytes were handed to the kernel for one viewer. */
  probe?: FrameWrittenProbe;

  constructor(
    private readonly camera: WebCamera,
    private maxViewers: number,
  ) {}

  setMaxViewers(n: number): void {
    this.maxViewers = n;
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  stats(): { viewers: number; sent: number; dropped: number } {
    let sent = 0;
    let dropped = 0;
    for (const v of this.viewers) {
      sent += v.sent;
      dropped += v.dropped;
    }
    return { viewers: this.viewers.size, sent, dropped };
  }

  attach(res: ServerResponse): void {
    if (this.viewers.size >= this.maxViewers)
      throw new UnavailableError(`too many preview viewers (max ${this.maxViewers})`, 'too-many-viewers');
    // The body ends when the connection closes (Connection: close): no chunked framing, which would add a length
    // line and two CRLFs around every write, per viewer and per frame.
    res.useChunkedEncodingByDefault = false;
    res.writeHead(200, {
      'Content-Type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`,
      'Cache-Control': 'no-store, no-cache, must-revalidate',
      Pragma: 'no-cache',
      Connection: 'close',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    const viewer: Viewer = { res, sent: 0, dropped: 0 };
    this.viewers.add(viewer);
    const detach = () => this.detach(viewer);
    res.on('close', detach);
    res.on('error', detach);
    if (!this.unsubscribe) this.unsubscribe = this.camera.subscribe((jpeg) => this.onFrame(jpeg));
    // The last frame at once, so the preview appears without waiting for the next one.
    const latest = this.camera.latestFrame();
    if (latest) this.write(viewer, partHead(latest.length, -1), latest, -1, this.probe ? process.hrtime.bigint() : 0n);
  }

  private detach(viewer: Viewer): void {
    if (!this.viewers.delete(viewer)) return;
    log.debug('viewer left', { sent: viewer.sent, dropped: viewer.dropped });
    if (this.viewers.size === 0 && this.unsubscribe) {
      this.unsubscribe();
      this.unsubscribe = undefined;
    }
  }

  private onFrame(jpeg: Buffer): void {
    const handedAt = this.probe ? process.hrtime.bigint() : 0n;
    const seq = this.seq++;
    const head = partHead(jpeg.length, seq);
    for (const v of this.viewers) this.write(v, head, jpeg, seq, handedAt);
  }

  private write(v: Viewer, head: Buffer, jpeg: Buffer, seq: number, handedAt: bigint): void {
    const res = v.res;
    const sock = res.socket;
    if (!sock || res.destroyed || res.writableEnded) {
      this.detach(v);
      return;
    }
    if (res.writableLength + sock.writableLength > MAX_PENDING_BYTES) {
      v.dropped++;
      return;
    }
    v.sent++;
    const probe = this.probe;
    // One writev per viewer per frame, flushed at once.
    sock.cork();
    res.write(head);
    res.write(jpeg);
    res.write(PART_END, probe ? () => probe(seq, handedAt, process.hrtime.bigint()) : undefined);
    sock.uncork();
  }

  close(): void {
    for (const v of [...this.viewers]) {
      v.res.destroy();
      this.detach(v);
    }
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}
