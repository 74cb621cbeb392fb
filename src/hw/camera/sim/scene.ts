import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

/**
 * Pictures of the simulated camera: photos from a folder (`camera.sim.images`) or a generated gradient, with a
 * moving square and a clock drawn on top so motion and time are visible in the preview. Frames are composed as
 * raw RGB in JS (cheap) and encoded once by sharp.
 */
const IMAGE_EXT = /\.(jpe?g|png|webp)$/i;
const SLIDE_MS = 3000;

export class Scene {
  private readonly bases = new Map<string, Buffer>();
  private images: string[] = [];
  private gradient?: Buffer;

  constructor(
    readonly width: number,
    readonly height: number,
    private readonly imagesDir?: string,
  ) {}

  async init(): Promise<void> {
    if (!this.imagesDir) return;
    try {
      const names = (await fs.readdir(this.imagesDir)).filter((n) => IMAGE_EXT.test(n)).sort();
      this.images = names.map((n) => path.join(this.imagesDir as string, n));
    } catch {
      this.images = [];
    }
  }

  /** Raw RGB of the current picture with the overlay, at `width`×`height`. */
  async raw(now = Date.now()): Promise<Buffer> {
    const base = await this.base(now);
    const px = Buffer.from(base);
    this.drawOverlay(px, now);
    return px;
  }

  async jpeg(quality: number, now = Date.now()): Promise<Buffer> {
    const px = await this.raw(now);
    return sharp(px, { raw: { width: this.width, height: this.height, channels: 3 } })
      .jpeg({ quality })
      .toBuffer();
  }

  private async base(now: number): Promise<Buffer> {
    if (this.images.length > 0) {
      const file = this.images[Math.floor(now / SLIDE_MS) % this.images.length];
      let b = this.bases.get(file);
      if (!b) {
        try {
          b = await sharp(file)
            .rotate()
            .resize(this.width, this.height, { fit: 'cover' })
            .removeAlpha()
            .raw()
            .toBuffer();
        } catch {
          b = this.makeGradient();
        }
        // Bounded: one decoded base per photo of the folder at preview size; large folders only keep the latest few.
        if (this.bases.size >= 8) this.bases.delete(this.bases.keys().next().value as string);
        this.bases.set(file, b);
      }
      return b;
    }
    this.gradient ??= this.makeGradient();
    return this.gradient;
  }

  private makeGradient(): Buffer {
    const { width: w, height: h } = this;
    const px = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 3;
        px[i] = Math.round((x / w) * 200) + 30;
        px[i + 1] = Math.round((y / h) * 160) + 40;
        px[i + 2] = 140;
      }
    }
    return px;
  }

  private fillRect(px: Buffer, x0: number, y0: number, w: number, h: number, rgb: [number, number, number]): void {
    const x1 = Math.min(this.width, Math.max(0, Math.round(x0 + w)));
    const y1 = Math.min(this.height, Math.max(0, Math.round(y0 + h)));
    for (let y = Math.max(0, Math.round(y0)); y < y1; y++) {
      for (let x = Math.max(0, Math.round(x0)); x < x1; x++) {
        const i = (y * this.width + x) * 3;
        px[i] = rgb[0];
        px[i + 1] = rgb[1];
        px[i + 2] = rgb[2];
      }
    }
  }

  private drawOverlay(px: Buffer, now: number): void {
    const { width: w, height: h } = this;
    // A square bouncing left-right: motion in every preview frame.
    const s = Math.max(4, Math.round(h / 10));
    const period = 4000;
    const t = (now % period) / period;
    const x = (t < 0.5 ? t * 2 : 2 - t * 2) * (w - s);
    this.fillRect(px, x, h * 0.7, s, s, [250, 200, 40]);
    // Clock HH:MM:SS in seven-segment digits, top left.
    const d = new Date(now);
    const text = [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
    const dh = Math.max(10, Math.round(h / 12));
    const dw = Math.round(dh / 2);
    const th = Math.max(1, Math.round(dh / 8));
    let cx = Math.round(w / 40) + th;
    const cy = Math.round(h / 40) + th;
    this.fillRect(px, cx - th, cy - th, (dw + th * 2) * text.length + th, dh + th * 2, [0, 0, 0]);
    for (const ch of text) {
      if (ch === ':') {
        this.fillRect(px, cx + dw / 2 - th / 2, cy + dh * 0.25, th, th, [255, 255, 255]);
        this.fillRect(px, cx + dw / 2 - th / 2, cy + dh * 0.7, th, th, [255, 255, 255]);
      } else {
        this.drawDigit(px, Number(ch), cx, cy, dw, dh, th);
      }
      cx += dw + th * 2;
    }
  }

  private drawDigit(px: Buffer, n: number, x: number, y: number, w: number, h: number, t: number): void {
    // Segments a..g: top, top-right, bottom-right, bottom, bottom-left, top-left, middle.
    const on = [
      '1111110',
      '0110000',
      '1101101',
      '1111001',
      '0110011',
      '1011011',
      '1011111',
      '1110000',
      '1111111',
      '1111011',
    ][n];
    const half = h / 2;
    const white: [number, number, number] = [255, 255, 255];
    const seg: [number, number, number, number][] = [
      [x, y, w, t],
      [x + w - t, y, t, half],
      [x + w - t, y + half, t, half],
      [x, y + h - t, w, t],
      [x, y + half, t, half],
      [x, y, t, half],
      [x, y + half - t / 2, w, t],
    ];
    seg.forEach((r, i) => {
      if (on[i] === '1') this.fillRect(px, r[0], r[1], r[2], r[3], white);
    });
  }
}
