import { promises as fs } from 'node:fs';
import { parseDocument } from 'yaml';
import { writeFileAtomic } from '../util/atomic-write.js';
import { ConfigError } from '../util/errors.js';
import type { PinholeConfig } from './schema.js';
import { validateConfigText } from './validate.js';

export interface ConfigEdit {
  /** Dotted path segments, e.g. ['camera', 'controls', 'ev']. */
  path: (string | number)[];
  /** undefined removes the key (back to its default). */
  value: unknown;
}

/**
 * The one way code changes the owner's config file. Edits go through the yaml Document API so the owner's
 * comments, key order and formatting survive; the result is validated before anything is written, and written
 * atomically (temp, fsync, rename, fsync dir). A missing file is created.
 */
export async function editConfigFile(file: string, edits: ConfigEdit[]): Promise<PinholeConfig> {
  let text = '';
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const doc = parseDocument(text);
  if (doc.errors.length) {
    throw new ConfigError(
      [`(file): the config file has YAML errors; fix them by hand first: ${doc.errors[0].message.split('\n')[0]}`],
      file,
    );
  }
  if (doc.contents === null) doc.contents = doc.createNode({}) as unknown as typeof doc.contents;
  for (const edit of edits) {
    if (edit.value === undefined) doc.deleteIn(edit.path);
    else doc.setIn(edit.path, edit.value);
  }
  const next = doc.toString();
  const result = validateConfigText(next);
  if (!result.config) throw new ConfigError(result.errors, file);
  let mode = 0o644;
  try {
    mode = (await fs.stat(file)).mode & 0o777;
  } catch {}
  await writeFileAtomic(file, next, { mode });
  return result.config;
}
