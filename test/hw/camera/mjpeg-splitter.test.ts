import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { MjpegSplitter } from '../../../src/hw/camera/mjpeg-splitter.js';

let frames: Buffer[] = [];

/** A JPEG with an EXIF APP1 that itself contains a complete embedded JPEG (SOI…EOI) like a thumbnail. */
function withEmbeddedThumb(jpeg: Buffer, thumb: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), Buffer.alloc(8), thumb]);
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), head, body, jpeg.subarray(2)]);
}

/** Deterministic PRNG so a failing seed can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function split(stream: Buffer, cuts: number[], max?: number): { out: Buffer[]; s: MjpegSplitter } {
  const out: Buffer[] = [];
  const s = new MjpegSplitter((f) => out.push(f), max);
  let at = 0;
  for (const c of [...cuts, stream.length]) {
    if (c > at) s.push(stream.subarray(at, c));
    at = Math.max(at, c);
  }
  s.end();
  return { out, s };
}

beforeAll(async () => {
  frames = [];
  for (let i = 0; i < 6; i++) {
    const img = sharp({
      create: { width: 64 + i * 8, height: 48, channels: 3, background: { r: i * 40, g: 100, b: 200 - i * 30 } },
    });
    frames.push(await img.jpeg({ quality: 60 + i }).toBuffer());
  }
  const thumb = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#f00' } })
    .jpeg()
    .toBuffer();
  frames.push(withEmbeddedThumb(frames[0], thumb));
});

describe('MjpegSplitter', () => {
  it('splits frames back to back in one chunk', () => {
    const { out, s } = split(Buffer.concat(frames), []);
    expect(out.map((b) => b.toString('hex'))).toEqual(frames.map((b) => b.toString('hex')));
    expect(s.stats).toMatchObject({ frames: frames.length, garbageBytes: 0, dropped: 0 });
  });

  it('does not end a frame at the EOI of an embedded EXIF thumbnail', () => {
    const withThumb = frames[frames.length - 1];
    const { out } = split(withThumb, []);
    expect(out).toHaveLength(1);
    expect(out[0].equals(withThumb)).toBe(true);
  });

  it('property: any chunking, with garbage between frames and a truncated last frame, yields exactly the frames', async () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const parts: Buffer[] = [];
      const expected: Buffer[] = [];
      const n = 1 + Math.floor(r() * 8);
      for (let i = 0; i < n; i++) {
        if (r() < 0.5) {
          // Garbage may contain FF bytes and even FF D8 not followed by a marker.
          const g = Buffer.from(
            Array.from({ length: Math.floor(r() * 40) }, () =>
              r() < 0.3 ? 0xff : r() < 0.1 ? 0xd8 : Math.floor(r() * 256),
            ),
          );
          parts.push(
            g
              .subarray(0, g.length)
              .filter((_, k) => !(g[k] === 0xff && g[k + 1] === 0xd8 && g[k + 2] === 0xff)) as Buffer,
          );
        }
        const f = frames[Math.floor(r() * frames.length)];
        parts.push(f);
        expected.push(f);
      }
      const truncated = r() < 0.5;
      if (truncated) {
        const f = frames[0];
        parts.push(f.subarray(0, 2 + Math.floor(r() * (f.length - 4))));
      }
      const stream = Buffer.concat(parts);
      const cuts: number[] = [];
      let at = 0;
      while (at < stream.length) {
        at += 1 + Math.floor(r() * (r() < 0.2 ? 3 : 700));
        cuts.push(at);
      }
      const { out, s } = split(stream, cuts);
      expect(out.length, `seed ${seed}`).toBe(expected.length);
      for (const [i, b] of out.entries()) expect(b.equals(expected[i]), `seed ${seed} frame ${i}`).toBe(true);
      if (truncated) expect(s.stats.dropped, `seed ${seed}`).toBeGreaterThanOrEqual(1);
    }
  });

  it('drops a frame cut short by a new SOI and keeps the next one', () => {
    const cut = frames[1].subarray(0, Math.floor(frames[1].length / 2));
    const { out, s } = split(Buffer.concat([frames[0], cut, frames[2]]), [7, 100, 333]);
    expect(out).toHaveLength(2);
    expect(out[0].equals(frames[0])).toBe(true);
    expect(out[1].equals(frames[2])).toBe(true);
    expect(s.stats.dropped).toBe(1);
  });

  it('bounds its buffer: an endless frame without EOI is dropped at maxFrameBytes', () => {
    const out: Buffer[] = [];
    const s = new MjpegSplitter((f) => out.push(f), 64 * 1024);
    // SOI + SOS header, then entropy data forever.
    s.push(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02]));
    const junk = Buffer.alloc(16 * 1024, 0x42);
    let maxBuffered = 0;
    for (let i = 0; i < 100; i++) {
      s.push(junk);
      maxBuffered = Math.max(maxBuffered, s.buffered);
    }
    expect(maxBuffered).toBeLessThanOrEqual(64 * 1024 + junk.length + 8);
    expect(s.stats.dropped).toBeGreaterThanOrEqual(1);
    s.push(frames[3]);
    expect(out.at(-1)?.equals(frames[3])).toBe(true);
  });

  it('splits real output of the fake rpicam-vid in any chunking (every frame decodes)', async () => {
    const stream = Buffer.concat(frames.slice(0, 4));
    const { out } = split(stream, [1, 2, 3, 500, 501]);
    for (const f of out) {
      const m = await sharp(f).metadata();
      expect(m.format).toBe('jpeg');
    }
  });
});
