import { ValidationError } from '../util/errors.js';
import type { Face } from './face.js';

const XMP_HEADER = Buffer.from('http://ns.adobe.com/xap/1.0/\0', 'latin1');
const MAX_SEGMENT_PAYLOAD = 0xffff - 2;

const num = (v: number) => (Math.round(v * 1e6) / 1e6).toString();
const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

/**
 * The XMP packet with MWG face regions (what digiKam, Lightroom, darktable and exiftool read): one `Face` region per
 * face, Area normalised to the image and centre-based as the MWG spec requires, AppliedToDimensions in pixels.
 */
export function faceRegionsXmp(faces: readonly Face[], width: number, height: number): string {
  const regions = faces.map((f) => {
    const x0 = clamp01(f.box[0] / width);
    const y0 = clamp01(f.box[1] / height);
    const x1 = clamp01((f.box[0] + f.box[2]) / width);
    const y1 = clamp01((f.box[1] + f.box[3]) / height);
    return [
      '      <rdf:li rdf:parseType="Resource">',
      '       <mwg-rs:Type>Face</mwg-rs:Type>',
      `       <mwg-rs:Area stArea:x="${num((x0 + x1) / 2)}" stArea:y="${num((y0 + y1) / 2)}" stArea:w="${num(x1 - x0)}" stArea:h="${num(y1 - y0)}" stArea:unit="normalized"/>`,
      '      </rdf:li>',
    ].join('\n');
  });
  return [
    '<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>',
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
    '  <rdf:Description rdf:about=""',
    '    xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"',
    '    xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#"',
    '    xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#">',
    '   <mwg-rs:Regions rdf:parseType="Resource">',
    `    <mwg-rs:AppliedToDimensions stDim:w="${Math.round(width)}" stDim:h="${Math.round(height)}" stDim:unit="pixel"/>`,
    '    <mwg-rs:RegionList>',
    '     <rdf:Bag>',
    ...regions,
    '     </rdf:Bag>',
    '    </mwg-rs:RegionList>',
    '   </mwg-rs:Regions>',
    '  </rdf:Description>',
    ' </rdf:RDF>',
    '</x:xmpmeta>',
    '<?xpacket end="w"?>',
  ].join('\n');
}

interface Segment {
  marker: number;
  start: number;
  end: number;
}

/** The marker segments before the scan data (SOS); the entropy-coded rest is copied untouched. */
function headerSegments(jpeg: Buffer): { segments: Segment[]; scanStart: number } {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8)
    throw new ValidationError('not a JPEG (no SOI marker)', undefined, 'bad-image');
  const segments: Segment[] = [];
  let p = 2;
  while (p < jpeg.length) {
    if (jpeg[p] !== 0xff)
      throw new ValidationError(`corrupt JPEG: expected a marker at byte ${p}`, undefined, 'bad-image');
    let q = p + 1;
    while (q < jpeg.length && jpeg[q] === 0xff) q++; // fill bytes
    if (q >= jpeg.length) break;
    const marker = jpeg[q];
    if (marker === 0xda || marker === 0xd9) return { segments, scanStart: p };
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      segments.push({ marker, start: p, end: q + 1 });
      p = q + 1;
      continue;
    }
    if (q + 2 >= jpeg.length) break;
    const len = jpeg.readUInt16BE(q + 1);
    const end = q + 1 + len;
    if (len < 2 || end > jpeg.length)
      throw new ValidationError('corrupt JPEG: segment runs past the end', undefined, 'bad-image');
    segments.push({ marker, start: p, end });
    p = end;
  }
  throw new ValidationError('corrupt JPEG: no image data (SOS) found', undefined, 'bad-image');
}

function isXmp(jpeg: Buffer, s: Segment): boolean {
  const payload = s.start + 4;
  return s.marker === 0xe1 && jpeg.subarray(payload, payload + XMP_HEADER.length).equals(XMP_HEADER);
}

/**
 * Returns the JPEG with an APP1 XMP segment holding MWG face regions. An existing XMP packet is replaced (in place);
 * otherwise the segment goes after the leading APP0/APP1 (JFIF, Exif) segments, where readers expect it.
 */
export function embedFaceRegions(jpeg: Buffer, faces: readonly Face[], width: number, height: number): Buffer {
  const { segments, scanStart } = headerSegments(jpeg);
  const packet = Buffer.from(faceRegionsXmp(faces, width, height), 'utf8');
  const payloadLen = XMP_HEADER.length + packet.length;
  if (payloadLen > MAX_SEGMENT_PAYLOAD)
    throw new ValidationError(`too many faces for one XMP segment (${faces.length})`);
  const head = Buffer.alloc(4);
  head.writeUInt16BE(0xffe1, 0);
  head.writeUInt16BE(payloadLen + 2, 2);
  const xmpSegment = Buffer.concat([head, XMP_HEADER, packet]);

  const kept = segments.filter((s) => !isXmp(jpeg, s));
  const firstXmp = segments.findIndex((s) => isXmp(jpeg, s));
  let insertAt: number;
  if (firstXmp >= 0) {
    insertAt = kept.filter((s) => s.start < segments[firstXmp].start).length;
  } else {
    insertAt = 0;
    while (insertAt < kept.length && (kept[insertAt].marker === 0xe0 || kept[insertAt].marker === 0xe1)) insertAt++;
  }
  const parts: Buffer[] = [jpeg.subarray(0, 2)];
  kept.forEach((s, i) => {
    if (i === insertAt) parts.push(xmpSegment);
    parts.push(jpeg.subarray(s.start, s.end));
  });
  if (insertAt >= kept.length) parts.push(xmpSegment);
  parts.push(jpeg.subarray(scanStart));
  return Buffer.concat(parts);
}

/** Reads the XMP packet of a JPEG (for tests and the gallery), or undefined. */
export function readXmp(jpeg: Buffer): string | undefined {
  const { segments } = headerSegments(jpeg);
  const s = segments.find((seg) => isXmp(jpeg, seg));
  return s ? jpeg.subarray(s.start + 4 + XMP_HEADER.length, s.end).toString('utf8') : undefined;
}
