import { Ajv, type ErrorObject } from 'ajv';
import { type Document, isMap, isPair, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import { cameraRules } from './camera-rules.js';
import { ConfigSchema, type PinholeConfig } from './schema.js';

export interface ValidationResult {
  config?: PinholeConfig;
  /** `<dotted.path>: <message> (line N)`, every error in the file, in file order. */
  errors: string[];
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, coerceTypes: false });
const validateFn = ajv.compile<PinholeConfig>(ConfigSchema);

/** Parses YAML text and validates it; defaults are filled in. Never throws for bad input. */
export function validateConfigText(text: string): ValidationResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const errors: { line: number; text: string }[] = [];
  for (const err of doc.errors) {
    const line = lineCounter.linePos(err.pos[0]).line;
    const where = yamlPathAt(doc, err.pos[0]);
    errors.push({ line, text: `${where || '(file)'}: YAML syntax error: ${firstLine(err.message)} (line ${line})` });
  }
  if (errors.length) return { errors: errors.map((e) => e.text) };

  const data: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  if (typeof data !== 'object' || Array.isArray(data) || data === null) {
    return { errors: ['(file): the config must be a mapping of keys to values (line 1)'] };
  }
  return validateConfigObject(data, (segments) => lineOf(doc, lineCounter, segments));
}

/** Validates a plain object (defaults are filled in on a copy). `lineOf` maps a path to a 1-based line, if known. */
export function validateConfigObject(
  input: object,
  lineOf: (segments: (string | number)[]) => number | undefined = () => undefined,
): ValidationResult {
  const data = structuredClone(input);
  let issues: { segments: (string | number)[]; message: string }[];
  if (validateFn(data)) {
    // Rules across keys, once the schema holds (they may fill values derived from other keys).
    issues = cameraRules(data as PinholeConfig, input).map((i) => ({ segments: i.path, message: i.message }));
    if (!issues.length) return { config: data as PinholeConfig, errors: [] };
  } else {
    issues = simplify(validateFn.errors ?? []).map((e) => ({ segments: pathSegments(e), message: describe(e) }));
  }
  const lines: { line: number; text: string }[] = [];
  const seen = new Set<string>();
  for (const { segments, message } of issues) {
    const line = lineOf(segments);
    const dotted = segments.length ? segments.join('.') : '(root)';
    const text = `${dotted}: ${message}${line ? ` (line ${line})` : ''}`;
    if (seen.has(text)) continue;
    seen.add(text);
    lines.push({ line: line ?? Number.MAX_SAFE_INTEGER, text });
  }
  lines.sort((a, b) => a.line - b.line);
  return { errors: lines.map((l) => l.text) };
}

function firstLine(s: string): string {
  return s.split('\n')[0].trim();
}

function pathSegments(e: ErrorObject): (string | number)[] {
  const segs = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  // An unknown key is reported at its own path, not its parent's.
  if (e.keyword === 'additionalProperties') segs.push((e.params as { additionalProperty: string }).additionalProperty);
  return segs;
}

/**
 * Ajv reports every branch of a failed union; keep one useful message per path. For a union of literals
 * (an enum) that is "must be one of: a, b, c".
 */
function simplify(errors: ErrorObject[]): ErrorObject[] {
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const out: ErrorObject[] = [];
  for (const e of errors) {
    if (e.keyword === 'anyOf') {
      const branches = errors.filter(
        (b) =>
          b.instancePath === e.instancePath && b.schemaPath.startsWith(e.schemaPath.replace(/\/anyOf$/, '/anyOf/')),
      );
      const consts = branches
        .filter((b) => b.keyword === 'const')
        .map((b) => (b.params as { allowedValue: unknown }).allowedValue);
      const types = [
        ...new Set(branches.filter((b) => b.keyword === 'type').map((b) => (b.params as { type: string }).type)),
      ];
      const message =
        consts.length && consts.length === branches.length
          ? `must be one of: ${consts.map((c) => JSON.stringify(c)).join(', ')}`
          : types.length
            ? `must be ${types.join(' or ')}`
            : 'has an invalid value';
      out.push({ ...e, message });
      continue;
    }
    // Branch errors of a union at the same path are folded into the anyOf message above.
    if (anyOfPaths.has(e.instancePath) && /\/anyOf\/\d+\//.test(e.schemaPath)) continue;
    out.push(e);
  }
  return out;
}

const knownKeysCache = new Map<string, string[]>();

function describe(e: ErrorObject): string {
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      const suggestion = suggest(key, siblingKeys(e.schemaPath));
      return `unknown key${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`;
    }
    case 'type':
      return `must be ${(e.params as { type: string }).type}`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `${e.message} (out of range)`;
    default:
      return e.message ?? 'is invalid';
  }
}

function siblingKeys(schemaPath: string): string[] {
  const cached = knownKeysCache.get(schemaPath);
  if (cached) return cached;
  // schemaPath looks like "#/properties/camera/additionalProperties"; walk the schema to the object.
  let node: unknown = ConfigSchema;
  for (const seg of schemaPath.replace(/^#\/?/, '').split('/').slice(0, -1)) {
    if (!seg) continue;
    node = (node as Record<string, unknown>)?.[seg.replace(/~1/g, '/')];
  }
  const keys = Object.keys(((node as { properties?: object })?.properties ?? {}) as object);
  knownKeysCache.set(schemaPath, keys);
  return keys;
}

function suggest(key: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = levenshtein(key.toLowerCase(), c.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  return best !== undefined && bestDist <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}

/** The line of the deepest node that exists along `segments`; for an unknown key, the key's own line. */
function lineOf(doc: Document, lc: LineCounter, segments: (string | number)[]): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined = (node as Node | null)?.range?.[0];
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
      continue;
    }
    const items = (node as { items?: unknown[] })?.items;
    if (Array.isArray(items) && typeof seg === 'number' && items[seg] !== undefined) {
      node = items[seg];
      offset = (node as Node)?.range?.[0] ?? offset;
      continue;
    }
    break;
  }
  return offset === undefined ? undefined : lc.linePos(offset).line;
}

function yamlPathAt(doc: Document, offset: number): string {
  // Best effort: name the top-level key whose range contains the error.
  const contents = doc.contents;
  if (!isMap(contents)) return '';
  for (const p of contents.items) {
    const k = p.key as Node | null;
    const v = p.value as Node | null;
    const start = k?.range?.[0];
    const end = v?.range?.[2] ?? k?.range?.[2];
    if (start !== undefined && end !== undefined && offset >= start && offset <= end)
      return String((k as { value?: unknown }).value ?? '');
  }
  return '';
}
