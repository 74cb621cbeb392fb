/**
 * The output file name as the real apps make it: `snprintf(filename, sizeof(filename), output, counter)` into a
 * fixed buffer (128 bytes in rpicam-still's generate_filename, 256 in rpicam-vid's FileOutput::openFile). The
 * whole -o string is a printf format with one unsigned argument: `%04d` numbers the captures, `%%` is a percent
 * sign, and any other `%` in a path is a directive too. Longer results are cut to the buffer size minus one byte,
 * silently.
 */

export interface FormattedName {
  /** The bytes of the name, as fopen() gets them. */
  bytes: Buffer;
  truncated: boolean;
  /**
   * Set when the format needs arguments the app never passes (a second directive, `%s`, `%n`, `*` widths): undefined
   * behaviour in C. The simulator reads zeros for numbers and crashes for `%s`/`%n`, as a real process most
   * likely would; the caller decides.
   */
  undefinedBehaviour?: 'missing-argument' | 'pointer';
}

const INT_CONV = new Set(['d', 'i', 'u', 'x', 'X', 'o', 'c']);
const FLOAT_CONV = new Set(['e', 'E', 'f', 'F', 'g', 'G', 'a', 'A']);

function formatInt(
  value: number,
  conv: string,
  flags: string,
  width: number,
  precision: number | undefined,
  length: string,
): string {
  // The argument is an unsigned int; %d reads it as int, hh/h narrow it.
  let v = value >>> 0;
  if (length === 'hh') v &= 0xff;
  else if (length === 'h') v &= 0xffff;
  let body: string;
  let sign = '';
  switch (conv) {
    case 'd':
    case 'i': {
      let s = length === 'hh' ? (v << 24) >> 24 : length === 'h' ? (v << 16) >> 16 : v | 0;
      if (length === 'l' || length === 'll' || length === 'j' || length === 'z' || length === 't') s = v;
      if (s < 0) {
        sign = '-';
        s = -s;
      } else if (flags.includes('+')) sign = '+';
      else if (flags.includes(' ')) sign = ' ';
      body = String(s);
      break;
    }
    case 'u':
      body = String(v);
      break;
    case 'x':
      body = v.toString(16);
      if (flags.includes('#') && v !== 0) sign = '0x';
      break;
    case 'X':
      body = v.toString(16).toUpperCase();
      if (flags.includes('#') && v !== 0) sign = '0X';
      break;
    case 'o':
      body = v.toString(8);
      if (flags.includes('#') && body[0] !== '0') body = `0${body}`;
      break;
    default: // 'c'
      return String.fromCharCode(v & 0xff).padStart(width, ' ');
  }
  if (precision !== undefined) {
    if (precision === 0 && body === '0') body = '';
    body = body.padStart(precision, '0');
  }
  const len = sign.length + body.length;
  if (len >= width) return sign + body;
  if (flags.includes('-')) return (sign + body).padEnd(width, ' ');
  if (flags.includes('0') && precision === undefined) return sign + body.padStart(width - sign.length, '0');
  return (sign + body).padStart(width, ' ');
}

export function cFormat(format: string, arg: number, bufferSize: number): FormattedName {
  let out = '';
  let used = 0;
  let ub: FormattedName['undefinedBehaviour'];
  const re = /%([-+ #0]*)(\*|\d+)?(?:\.(\*|\d*))?(hh|h|ll|l|j|z|t|L)?([a-zA-Z%])?/gy;
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    re.lastIndex = pct;
    const m = re.exec(format);
    if (!m || m[5] === undefined) {
      // A lone % at the end: glibc prints nothing for it.
      i = format.length;
      break;
    }
    i = re.lastIndex;
    const [, flags, w, p, length = '', conv] = m;
    if (conv === '%') {
      out += '%';
      continue;
    }
    if (w === '*' || p === '*') ub ??= 'missing-argument';
    const width = w && w !== '*' ? Number(w) : 0;
    const precision = p === undefined ? undefined : p === '*' ? undefined : Number(p || 0);
    if (INT_CONV.has(conv)) {
      if (used++ > 0) ub ??= 'missing-argument';
      out += formatInt(used === 1 ? arg : 0, conv, flags, width, precision, length);
    } else if (FLOAT_CONV.has(conv)) {
      // A double read from an integer argument slot: garbage in C.
      ub ??= 'missing-argument';
      out += (0).toFixed(precision ?? 6).padStart(width, ' ');
    } else if (conv === 's' || conv === 'n' || conv === 'p') {
      ub = 'pointer';
    } else {
      // An unknown conversion: glibc copies it out as written.
      out += m[0];
    }
  }
  const bytes = Buffer.from(out, 'utf8');
  const max = bufferSize - 1;
  return {
    bytes: bytes.length > max ? bytes.subarray(0, max) : bytes,
    truncated: bytes.length > max,
    ...(ub ? { undefinedBehaviour: ub } : {}),
  };
}
