import { ValidationError } from '../util/errors.js';
import type { FilterDef, ParamValue, ParamValues } from './types.js';

/** Fills defaults and checks every value against the filter's declared params; unknown names are errors. */
export function resolveParams(filter: FilterDef, given: Record<string, unknown> = {}): ParamValues {
  const out: ParamValues = {};
  for (const key of Object.keys(given)) {
    if (!(key in filter.params)) {
      const known = Object.keys(filter.params);
      throw new ValidationError(
        `filter ${filter.name} has no parameter "${key}"${known.length ? ` (parameters: ${known.join(', ')})` : ' (it takes none)'}`,
        undefined,
        'bad-param',
      );
    }
  }
  for (const [key, spec] of Object.entries(filter.params)) {
    const raw = given[key];
    if (raw === undefined) {
      out[key] = spec.default;
      continue;
    }
    const bad = (why: string) =>
      new ValidationError(`${filter.name}: parameter ${key}=${String(raw)} ${why}`, undefined, 'bad-param');
    switch (spec.type) {
      case 'enum': {
        const v = String(raw);
        if (!spec.values.includes(v)) throw bad(`is not one of ${spec.values.join('|')}`);
        out[key] = v;
        break;
      }
      case 'number':
      case 'integer': {
        const v =
          typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
        if (!Number.isFinite(v)) throw bad('is not a number');
        if (spec.type === 'integer' && !Number.isInteger(v)) throw bad('is not an integer');
        if (v < spec.min || v > spec.max) throw bad(`is outside ${spec.min}..${spec.max}`);
        out[key] = v;
        break;
      }
      case 'boolean': {
        const v =
          raw === true || raw === 'true' || raw === '1' || raw === 'yes'
            ? true
            : raw === false || raw === 'false' || raw === '0' || raw === 'no'
              ? false
              : undefined;
        if (v === undefined) throw bad('is not true|false');
        out[key] = v;
        break;
      }
      default: {
        const never: never = spec;
        throw new Error(`unknown param type ${String(never)}`);
      }
    }
  }
  return out;
}

/** `key=value` strings from the CLI (`--param strength=strong`). */
export function parseParamArgs(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new ValidationError(`--param ${a}: expected key=value`, undefined, 'bad-param');
    out[a.slice(0, eq).trim()] = a.slice(eq + 1).trim();
  }
  return out;
}

export function describeParam(key: string, spec: FilterDef['params'][string]): string {
  const range =
    spec.type === 'enum' ? spec.values.join('|') : spec.type === 'boolean' ? 'true|false' : `${spec.min}..${spec.max}`;
  return `${key}=${range} (default ${String(spec.default as ParamValue)}): ${spec.description}`;
}
