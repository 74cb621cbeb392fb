export interface JpegFrameInfo {
  width: number;
  height: number;
  /** 1 = greyscale, 3 = YCbCr/RGB, 4 = CMYK. */
  components: number;
}

/**
 * The size of a JPEG from its SOFn segment, read in place: a preview frame needs no libvips round trip (sharp's
 * metadata() is a second decode set-up per frame) to know how far the decoder may shrink it on load.
 * Returns undefined when the bytes are not a JPEG or hold no frame header.
 */
export function jpegFrameInfo(buf: Uint8Array): JpegFrameInfo | undefined {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 4 <= buf.length) {
    if (buf[i] !== 0xff) return undefined;
    const marker = buf[i + 1];
    // fill bytes, then markers without a length (RSTn, TEM)
    if (marker === 0xff) {
      i++;
      continue;
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // end of image or scan data before any frame header
    const len = (buf[i + 2] << 8) | buf[i + 3];
    if (len < 2) return undefined;
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC)
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (i + 10 > buf.length) return undefined;
      const height = (buf[i + 5] << 8) | buf[i + 6];
      const width = (buf[i + 7] << 8) | buf[i + 8];
      const components = buf[i + 9];
      return width > 0 && height > 0 ? { width, height, components } : undefined;
    }
    i += 2 + len;
  }
  return undefined;
}
