import type { Readable, Writable } from 'node:stream';
import { crc32 } from 'node:zlib';

/**
 * A minimal streaming ZIP writer (STORE method: JPEGs do not compress). Each entry is streamed with a data
 * descriptor, so nothing is held in memory but the central directory. ZIP64 is not written: entries and the
 * archive must stay below 4 GiB, checked before each entry.
 */
export interface ZipEntrySource {
  name: string;
  mtime: Date;
  open(): Readable | AsyncIterable<Buffer>;
}

const LIMIT = 0xffffffff;

function dosTime(d: Date): { time: number; date: number } {
  const year = Math.max(1980, d.getFullYear());
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | Math.floor(d.getSeconds() / 2),
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

async function put(out: Writable, buf: Buffer): Promise<void> {
  if (out.destroyed) throw new Error('client went away');
  if (!out.write(buf)) {
    await new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        out.off('close', onClose);
        resolve();
      };
      const onClose = () => {
        out.off('drain', onDrain);
        reject(new Error('client went away'));
      };
      out.once('drain', onDrain);
      out.once('close', onClose);
    });
  }
}

export async function writeZip(out: Writable, entries: ZipEntrySource[]): Promise<void> {
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const { time, date } = dosTime(entry.mtime);
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4); // version needed
    header.writeUInt16LE(0x0808, 6); // bit 3: sizes in data descriptor; bit 11: UTF-8 names
    header.writeUInt16LE(0, 8); // STORE
    header.writeUInt16LE(time, 10);
    header.writeUInt16LE(date, 12);
    header.writeUInt16LE(name.length, 26);
    const localOffset = offset;
    await put(out, header);
    await put(out, name);
    offset += header.length + name.length;
    let crc = 0;
    let size = 0;
    for await (const chunk of entry.open() as AsyncIterable<Buffer>) {
      crc = crc32(chunk, crc);
      size += chunk.length;
      if (size >= LIMIT || offset + size >= LIMIT) throw new Error('zip too large (over 4 GiB)');
      await put(out, chunk);
    }
    offset += size;
    const desc = Buffer.alloc(16);
    desc.writeUInt32LE(0x08074b50, 0);
    desc.writeUInt32LE(crc >>> 0, 4);
    desc.writeUInt32LE(size, 8);
    desc.writeUInt32LE(size, 12);
    await put(out, desc);
    offset += desc.length;
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(0x031e, 4); // made by: unix, 3.0
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(0x0808, 8);
    cd.writeUInt16LE(0, 10);
    cd.writeUInt16LE(time, 12);
    cd.writeUInt16LE(date, 14);
    cd.writeUInt32LE(crc >>> 0, 16);
    cd.writeUInt32LE(size, 20);
    cd.writeUInt32LE(size, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external attrs: regular file 0644
    cd.writeUInt32LE(localOffset, 42);
    central.push(cd, name);
  }
  const cdStart = offset;
  let cdSize = 0;
  for (const b of central) {
    await put(out, b);
    cdSize += b.length;
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdSize, 12);
  end.writeUInt32LE(cdStart, 16);
  await put(out, end);
}
