import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, errorText } from '../api';
import { SyncSettings } from './sync';

/** The subset of JSON Schema that TypeBox emits for our config. */
interface Schema {
  type?: string;
  title?: string;
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  pattern?: string;
  requiresRestart?: boolean;
  properties?: Record<string, Schema>;
  anyOf?: Schema[];
  const?: unknown;
}

type Obj = Record<string, unknown>;

interface ConfigResponse {
  config: Obj;
  errors: string[];
  file: string | null;
  schema: Schema;
  sshOnly: string[];
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function enumValues(s: Schema): unknown[] | null {
  if (!s.anyOf?.every((b) => b.const !== undefined)) return null;
  return s.anyOf.map((b) => b.const);
}

function nullableString(s: Schema): boolean {
  return (
    !!s.anyOf &&
    s.anyOf.length === 2 &&
    s.anyOf.some((b) => b.type === 'null') &&
    s.anyOf.some((b) => b.type === 'string')
  );
}

/** Inline checks mirroring the schema; the server validates again with the real schema. */
export function fieldError(s: Schema, v: unknown): string | null {
  if (s.type === 'integer' || s.type === 'number') {
    if (typeof v !== 'number' || Number.isNaN(v)) return 'must be a number';
    if (s.type === 'integer' && !Number.isInteger(v)) return 'must be a whole number';
    if (s.minimum !== undefined && v < s.minimum) return `must be at least ${s.minimum}`;
    if (s.maximum !== undefined && v > s.maximum) return `must be at most ${s.maximum}`;
  }
  if (s.type === 'string' && typeof v === 'string') {
    if (s.minLength !== undefined && v.length < s.minLength)
      return s.minLength === 1 ? 'must not be empty' : `must have at least ${s.minLength} characters`;
    if (s.pattern && !new RegExp(s.pattern).test(v)) return 'has an invalid format';
  }
  return null;
}

/** Changed leaves of `next` against `prev`, as a partial object (arrays and maps compare whole). */
function diff(prev: unknown, next: unknown, schema: Schema): unknown {
  if (schema.type === 'object' && schema.properties && isObj(prev) && isObj(next)) {
    const out: Obj = {};
    for (const k of Object.keys(schema.properties)) {
      const d = diff(prev[k], next[k], schema.properties[k]);
      if (d !== undefined) out[k] = d;
    }
    return Object.keys(out).length ? out : undefined;
  }
  return JSON.stringify(prev) === JSON.stringify(next) ? undefined : next;
}

function setIn(obj: Obj, path: string[], value: unknown): Obj {
  const [head, ...rest] = path;
  return { ...obj, [head]: rest.length ? setIn(isObj(obj[head]) ? (obj[head] as Obj) : {}, rest, value) : value };
}

function Field({
  schema,
  path,
  value,
  onChange,
  sshOnly,
}: {
  schema: Schema;
  path: string[];
  value: unknown;
  onChange: (path: string[], v: unknown) => void;
  sshOnly: string[];
}) {
  const dotted = path.join('.');
  const locked = sshOnly.some((k) => dotted === k || dotted.startsWith(`${k}.`));
  const [jsonText, setJsonText] = useState<string | null>(null);
  const [jsonError, setJsonError] = useState<string | null>(null);
  const title = schema.title ?? path[path.length - 1];
  const id = `f-${dotted}`;

  if (schema.type === 'object' && schema.properties) {
    return (
      <fieldset>
        <legend>{title}</legend>
        {schema.description && <p class="hint">{schema.description}</p>}
        {Object.entries(schema.properties).map(([k, s]) => (
          <Field
            key={k}
            schema={s}
            path={[...path, k]}
            value={isObj(value) ? value[k] : undefined}
            onChange={onChange}
            sshOnly={sshOnly}
          />
        ))}
      </fieldset>
    );
  }

  const err = locked ? null : (jsonError ?? fieldError(schema, value));
  const options = enumValues(schema);
  let input: JSX.Element;
  if (locked) {
    input = <input id={id} type="text" value={typeof value === 'string' ? value : JSON.stringify(value)} disabled />;
  } else if (schema.type === 'boolean') {
    input = (
      <input
        id={id}
        type="checkbox"
        checked={value === true}
        onChange={(e) => onChange(path, e.currentTarget.checked)}
      />
    );
  } else if (schema.type === 'integer' || schema.type === 'number') {
    input = (
      <input
        id={id}
        type="number"
        inputMode="decimal"
        step={schema.type === 'integer' ? 1 : 'any'}
        min={schema.minimum}
        max={schema.maximum}
        value={typeof value === 'number' && !Number.isNaN(value) ? value : ''}
        onInput={(e) => onChange(path, e.currentTarget.value === '' ? Number.NaN : Number(e.currentTarget.value))}
        aria-invalid={err ? true : undefined}
      />
    );
  } else if (options) {
    input = (
      <select
        id={id}
        value={String(value)}
        onChange={(e) =>
          onChange(
            path,
            options.find((o) => String(o) === e.currentTarget.value),
          )
        }
      >
        {options.map((o) => (
          <option key={String(o)} value={String(o)}>
            {String(o)}
          </option>
        ))}
      </select>
    );
  } else if (schema.type === 'string' || nullableString(schema)) {
    input = (
      <input
        id={id}
        type="text"
        value={typeof value === 'string' ? value : ''}
        placeholder={nullableString(schema) ? '(none)' : undefined}
        onInput={(e) =>
          onChange(path, e.currentTarget.value === '' && nullableString(schema) ? null : e.currentTarget.value)
        }
        aria-invalid={err ? true : undefined}
      />
    );
  } else {
    // Lists and maps: edited as JSON.
    input = (
      <textarea
        id={id}
        rows={3}
        value={jsonText ?? JSON.stringify(value ?? schema.default ?? null)}
        onInput={(e) => {
          const text = e.currentTarget.value;
          setJsonText(text);
          try {
            onChange(path, JSON.parse(text));
            setJsonError(null);
          } catch {
            setJsonError('not valid JSON');
          }
        }}
        aria-invalid={err ? true : undefined}
      />
    );
  }
  return (
    <div class={`field${schema.type === 'boolean' ? ' inline' : ''}`} data-key={dotted}>
      <label for={id}>
        {title}
        {schema.requiresRestart && <span class="tag">restart</span>}
      </label>
      {input}
      {schema.description && <small class="hint">{schema.description}</small>}
      {locked && <small class="hint">Change this over SSH in the config file.</small>}
      {err && <small class="error">{err}</small>}
    </div>
  );
}

function hasErrors(schema: Schema, value: unknown, path: string[], sshOnly: string[]): boolean {
  if (schema.type === 'object' && schema.properties) {
    return Object.entries(schema.properties).some(([k, s]) =>
      hasErrors(s, isObj(value) ? value[k] : undefined, [...path, k], sshOnly),
    );
  }
  if (sshOnly.some((k) => path.join('.') === k || path.join('.').startsWith(`${k}.`))) return false;
  return fieldError(schema, value) !== null;
}

export function Settings() {
  const [data, setData] = useState<ConfigResponse | null>(null);
  const [draft, setDraft] = useState<Obj>({});
  const [saving, setSaving] = useState(false);
  const [message, setMessage] = useState<{ section: string; ok: boolean; text: string; errors?: string[] } | null>(
    null,
  );
  const [loadError, setLoadError] = useState<string | null>(null);

  const load = () =>
    api<ConfigResponse>('GET', '/api/config')
      .then((d) => {
        setData(d);
        setDraft(d.config);
      })
      .catch((e) => setLoadError(errorText(e)));

  useEffect(() => {
    void load();
  }, []);

  if (loadError) return <p class="error">{loadError}</p>;
  if (!data) return <p class="muted center">Loading settings…</p>;

  const sections = Object.entries(data.schema.properties ?? {}).filter(([, s]) => s.type === 'object');
  const save = async (section: string) => {
    const schema = data.schema.properties?.[section] as Schema;
    const change = diff(data.config[section], draft[section], schema);
    if (change === undefined) {
      setMessage({ section, ok: true, text: 'Nothing changed.' });
      return;
    }
    setSaving(true);
    try {
      const r = await api<{ config: Obj }>('PUT', '/api/config', { [section]: change });
      setData({ ...data, config: r.config, errors: [] });
      setDraft(r.config);
      setMessage({ section, ok: true, text: 'Saved.' });
    } catch (e) {
      setMessage({
        section,
        ok: false,
        text: errorText(e).split('\n')[0],
        errors: e instanceof ApiError ? e.details?.errors : undefined,
      });
    } finally {
      setSaving(false);
    }
  };

  return (
    <div class="settings">
      <h2>Settings</h2>
      {data.errors.length > 0 && (
        <div class="banner error" data-testid="config-errors" role="alert">
          <strong>The config file{data.file ? ` ${data.file}` : ''} has errors</strong> (the camera runs on the last
          good settings until they are fixed):
          <ul>
            {data.errors.map((e) => (
              <li key={e}>
                <code>{e}</code>
              </li>
            ))}
          </ul>
        </div>
      )}
      <SyncSettings />
      {sections.map(([name, schema]) => {
        const invalid = hasErrors(schema, draft[name], [name], data.sshOnly);
        return (
          <details key={name} data-section={name}>
            <summary>{schema.title ?? name}</summary>
            {schema.description && <p class="hint">{schema.description}</p>}
            <form
              onSubmit={(e) => {
                e.preventDefault();
                void save(name);
              }}
            >
              {Object.entries(schema.properties ?? {}).map(([k, s]) => (
                <Field
                  key={k}
                  schema={s}
                  path={[name, k]}
                  value={isObj(draft[name]) ? (draft[name] as Obj)[k] : undefined}
                  onChange={(p, v) => setDraft((d) => setIn(d, p, v))}
                  sshOnly={data.sshOnly}
                />
              ))}
              <button type="submit" class="primary" disabled={saving || invalid}>
                Save {schema.title ?? name}
              </button>
              {message?.section === name && (
                <div class={message.ok ? 'ok' : 'error'} role="status">
                  {message.text}
                  {message.errors && (
                    <ul>
                      {message.errors.map((e) => (
                        <li key={e}>{e}</li>
                      ))}
                    </ul>
                  )}
                </div>
              )}
            </form>
          </details>
        );
      })}
    </div>
  );
}
