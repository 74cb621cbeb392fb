import sharp from 'sharp';

/**
 * A generated JPEG the preview shows instead of live video ("NO CAMERA", "CAMERA BUSY"), so a phone watching the
 * stream sees why there is no picture instead of a frozen frame. Drawn shapes carry the meaning even when the
 * system has no fonts.
 */
export async function placeholderJpeg(width: number, height: number, title: string, detail = ''): Promise<Buffer> {
  const esc = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const fs = Math.round(height / 8);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<rect width="100%" height="100%" fill="#1b1b1b"/>
<rect x="${width * 0.05}" y="${height * 0.05}" width="${width * 0.9}" height="${height * 0.9}" fill="none" stroke="#c0392b" stroke-width="${Math.max(2, height / 60)}"/>
<line x1="${width * 0.05}" y1="${height * 0.05}" x2="${width * 0.95}" y2="${height * 0.95}" stroke="#c0392b" stroke-opacity="0.35" stroke-width="${Math.max(2, height / 80)}"/>
<text x="50%" y="48%" font-family="sans-serif" font-weight="bold" font-size="${fs}" fill="#ffffff" text-anchor="middle">${esc(title)}</text>
<text x="50%" y="64%" font-family="sans-serif" font-size="${Math.round(fs / 3)}" fill="#cccccc" text-anchor="middle">${esc(detail.slice(0, 80))}</text>
</svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 70 }).toBuffer();
}
