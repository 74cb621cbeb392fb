import { readFileSync } from 'node:fs';
import path from 'node:path';
import { appRoot } from '../config/locate.js';

export function version(): string {
  try {
    return (JSON.parse(readFileSync(path.join(appRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
