/**
 * Splits a raw MJPEG byte stream (rpicam-vid `--codec mjpeg -o -`: JPEGs back to back, no boundary, no length)
 * into complete JPEG frames. It walks the JPEG segment structure instead of searching for FF D9 blindly, so an
 * EXIF thumbnail inside APP1 cannot end a frame early. Garbage between frames is skipped; a frame cut short by a
 * new SOI or by the end of the stream is dropped; a frame larger than `maxFrameBytes` is dropped, so a corrupt
 * stream can never grow the buffer without bound.
 */

export interface SplitterStats {
  frames: number;
  /** Bytes skipped outside any frame. */
  garbageBytes: number;
  /** Frames abandoned: truncated, corrupt or oversized. */
  dropped: number;
}

type Phase = 'seek' | 'header' | 'scan';

export class MjpegSplitter {
  readonly stats: SplitterStats = { frames: 0, garbageBytes: 0, dropped: 0 };
  private buf: Buffer = Buffer.alloc(0);
  /** `buf` is our own copy (made by concat), not a chunk the stream handed us: a frame may be cut from it as is. */
  private owned = false;
  private phase: Phase = 'seek';
  /** Where parsing resumes in `buf`; the current frame starts at 0 once its SOI was found. */
  private pos = 0;

  constructor(
    private readonly onFrame: (jpeg: Buffer) => void,
    private readonly maxFrameBytes = 4 * 1024 * 1024,
  ) {}

  push(chunk: Buffer): void {
    this.owned = this.buf.length !== 0;
    this.buf = this.owned ? Buffer.concat([this.buf, chunk]) : chunk;
    this.parse();
  }

  /** End of stream: a frame still open is truncated and dropped. */
  end(): void {
    // What looked like a frame start may have been garbage whose bogus segment length swallowed a real frame:
    // re-parse from one byte further until nothing is open, so no complete frame is lost at the end.
    while (this.phase !== 'seek') {
      this.resync();
      this.parse();
    }
    this.stats.garbageBytes += this.buf.length;
    this.reset();
  }

  /** Bytes held for an incomplete frame (bounded by maxFrameBytes + one chunk). */
  get buffered(): number {
    return this.buf.length;
  }

  private reset(): void {
    this.buf = Buffer.alloc(0);
    this.phase = 'seek';
    this.pos = 0;
  }

  /** Abandons the current frame and looks for the next SOI after its first byte. */
  private resync(): void {
    this.stats.dropped++;
    this.buf = this.buf.subarray(1);
    this.phase = 'seek';
    this.pos = 0;
  }

  private parse(): void {
    for (;;) {
      if (this.phase === 'seek') {
        const soi = findSoi(this.buf, 0);
        if (soi < 0) {
          // Keep a trailing FF or FF D8: the SOI may straddle the chunk boundary.
          const keep =
            this.buf.length >= 2 && this.buf[this.buf.length - 2] === 0xff && this.buf[this.buf.length - 1] === 0xd8
              ? 2
              : this.buf.length >= 1 && this.buf[this.buf.length - 1] === 0xff
                ? 1
                : 0;
          this.stats.garbageBytes += this.buf.length - keep;
          this.buf = this.buf.subarray(this.buf.length - keep);
          return;
        }
        this.stats.garbageBytes += soi;
        this.buf = this.buf.subarray(soi);
        this.phase = 'header';
        this.pos = 2;
      }
      if (this.pos > this.maxFrameBytes) {
        this.resync();
        continue;
      }
      if (this.phase === 'header') {
        const r = this.parseHeader();
        if (r === 'more') return;
        if (r === 'corrupt') {
          this.resync();
          continue;
        }
      }
      if (this.phase === 'scan') {
        const r = this.parseScan();
        if (r === 'more') {
          if (this.pos > this.maxFrameBytes) {
            this.resync();
            continue;
          }
          return;
        }
        if (r === 'corrupt') {
          this.resync();
        }
      }
    }
  }

  /** Walks marker segments up to the start of entropy-coded data. */
  private parseHeader(): 'more' | 'corrupt' | 'ok' {
    const b = this.buf;
    for (;;) {
      if (this.pos + 2 > b.length) return 'more';
      if (b[this.pos] !== 0xff) return 'corrupt';
      const m = b[this.pos + 1];
      if (m === 0xff) {
        this.pos++; // fill byte
        continue;
      }
      if (m === 0xd8) return 'corrupt'; // a new SOI inside a header: the previous frame was cut
      if (m === 0xd9) {
        this.emit(this.pos + 2);
        return 'ok';
      }
      if ((m >= 0xd0 && m <= 0xd7) || m === 0x01) {
        this.pos += 2;
        continue;
      }
      if (!isSegmentMarker(m)) return 'corrupt';
      if (this.pos + 4 > b.length) return 'more';
      const len = (b[this.pos + 2] << 8) | b[this.pos + 3];
      // Tables and frame headers are small; only APPn and COM may be long (EXIF, thumbnails).
      if (len < 2 || (len > 2048 && !(m >= 0xe0 && m <= 0xef) && m !== 0xfe)) return 'corrupt';
      this.pos += 2 + len;
      if (m === 0xda) {
        this.phase = 'scan';
        return 'ok';
      }
    }
  }

  /** Scans entropy-coded data for the next marker that is not a stuffed byte or a restart marker. */
  private parseScan(): 'more' | 'corrupt' | 'ok' {
    const b = this.buf;
    for (;;) {
      const ff = b.indexOf(0xff, this.pos);
      if (ff < 0 || ff + 1 >= b.length) {
        this.pos = ff < 0 ? b.length : ff;
        return 'more';
      }
      const m = b[ff + 1];
      if (m === 0x00 || (m >= 0xd0 && m <= 0xd7) || m === 0xff) {
        this.pos = m === 0xff ? ff + 1 : ff + 2;
        continue;
      }
      if (m === 0xd9) {
        this.emit(ff + 2);
        return 'ok';
      }
      if (m === 0xd8) {
        // Truncated frame followed by a new one: drop the partial frame and restart at the new SOI.
        this.stats.dropped++;
        this.buf = b.subarray(ff);
        this.phase = 'header';
        this.pos = 2;
        return 'ok';
      }
      // Another segment (DHT, SOS of a progressive scan, ...).
      this.pos = ff;
      this.phase = 'header';
      return 'ok';
    }
  }

  private emit(end: number): void {
    // At most one copy per frame, never one per consumer: a frame that spanned chunks was already copied by concat
    // (what follows it shares that memory until the next chunk, less than one chunk); one inside a single chunk is
    // copied so it does not pin the stream's read buffer.
    const frame = this.owned ? this.buf.subarray(0, end) : Buffer.from(this.buf.subarray(0, end));
    this.buf = this.buf.subarray(end);
    this.phase = 'seek';
    this.pos = 0;
    this.stats.frames++;
    this.onFrame(frame);
  }
}

/** Markers that may follow SOI before the image data: SOFn, DHT, DAC, SOS, DQT, DNL, DRI, DHP, EXP, APPn, COM. */
function isSegmentMarker(m: number): boolean {
  return (m >= 0xc0 && m <= 0xcf) || (m >= 0xda && m <= 0xdf) || (m >= 0xe0 && m <= 0xef) || m === 0xfe;
}

function findSoi(b: Buffer, from: number): number {
  let i = b.indexOf(0xff, from);
  while (i >= 0 && i + 2 < b.length) {
    if (b[i + 1] === 0xd8 && b[i + 2] === 0xff) return i;
    i = b.indexOf(0xff, i + 1);
  }
  return -1;
}
