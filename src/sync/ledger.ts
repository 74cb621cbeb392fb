import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fsyncDir } from '../util/atomic-write.js';

/**
 * What each target has received for good: one append-only file per target, a line per completed upload
 * (`<photoId> <kind> <iso time> <bytes>`), fsynced once per batch. A power cut can only tear the last line, which is
 * ignored on load; a lost line means one more upload that rclone finds already there (same name, same size). The
 * `done` count of a target is the number of distinct uploads in its ledger: it outlives the queue entries.
 */
export class DoneLedger {
  private readonly done = new Map<string, Set<string>>();
  private lastBytes = 0;

  constructor(private readonly dir: string) {}

  private file(target: string): string {
    return path.join(this.dir, `${target}.done`);
  }

  async load(targets: string[]): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    this.done.clear();
    for (const t of targets) {
      const set = new Set<string>();
      let text = '';
      try {
        text = await fs.readFile(this.file(t), 'utf8');
      } catch {
        /* nothing uploaded yet */
      }
      for (const line of text.split('\n')) {
        const [id, kind, at] = line.split(' ');
        if (id && kind && at && /^p\d{8}-[0-9a-f]{8}$/.test(id)) set.add(`${id} ${kind}`);
      }
      this.done.set(t, set);
    }
    this.lastBytes = 0;
  }

  has(target: string, photoId: string, kind: string): boolean {
    return this.done.get(target)?.has(`${photoId} ${kind}`) ?? false;
  }

  count(target: string): number {
    return this.done.get(target)?.size ?? 0;
  }

  /** Appends and fsyncs: when this resolves, the uploads are recorded for good. */
  async record(target: string, items: { photoId: string; kind: string; bytes: number }[]): Promise<void> {
    if (!items.length) return;
    let set = this.done.get(target);
    if (!set) {
      set = new Set();
      this.done.set(target, set);
    }
    const now = new Date().toISOString();
    const text = items.map((i) => `${i.photoId} ${i.kind} ${now} ${i.bytes}\n`).join('');
    const file = this.file(target);
    const existed = await fs
      .access(file)
      .then(() => true)
      .catch(() => false);
    // A torn last line (power cut mid-append) must not swallow the first new line.
    const fh = await fs.open(file, 'a');
    try {
      const st = await fh.stat();
      let prefix = '';
      if (st.size > 0) {
        const b = Buffer.alloc(1);
        const r = await fs.open(file, 'r');
        try {
          await r.read(b, 0, 1, st.size - 1);
        } finally {
          await r.close();
        }
        if (b[0] !== 0x0a) prefix = '\n';
      }
      await fh.write(prefix + text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (!existed) await fsyncDir(this.dir);
    for (const i of items) set.add(`${i.photoId} ${i.kind}`);
    this.lastBytes += text.length;
  }
}
