import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const shared = path.resolve(repoRoot, '../shared');
export const modelPath = (file: string) => path.join(shared, 'models', file);
export const imagePath = (file: string) => path.join(shared, 'images', file);
export const SESSION = { threads: 1, optimization: 'all', memArena: false } as const;
