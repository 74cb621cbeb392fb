import { promises as fs } from 'node:fs';

export interface PiModel {
  /** The model string without its trailing NUL, or null when the file is absent (not a Pi, or no device tree). */
  model: string | null;
  isPi: boolean;
  /** 1..5 for Raspberry Pi boards (Zero 2 W counts as 3, Pi 400/CM4 as 4, Pi 500/CM5 as 5), else null. */
  generation: number | null;
}

export function parsePiModel(text: string | null): PiModel {
  if (text === null) return { model: null, isPi: false, generation: null };
  const model = text.replace(/\0/g, '').trim();
  if (!/Raspberry Pi/i.test(model)) return { model, isPi: false, generation: null };
  return { model, isPi: true, generation: generationOf(model) };
}

function generationOf(model: string): number {
  if (/Pi (5|500)\b|Compute Module 5/i.test(model)) return 5;
  if (/Pi (4|400)\b|Compute Module 4/i.test(model)) return 4;
  if (/Pi 3\b|Zero 2|Compute Module 3/i.test(model)) return 3;
  if (/Pi 2\b/i.test(model)) return 2;
  // Pi 1 A/B/B+, Zero, Zero W, Compute Module 1.
  return 1;
}

export async function readPiModel(file: string): Promise<PiModel> {
  try {
    return parsePiModel(await fs.readFile(file, 'utf8'));
  } catch {
    return parsePiModel(null);
  }
}
