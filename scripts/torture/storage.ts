import type { ScenarioOptions } from './harness.js';
export async function run(_opts: ScenarioOptions): Promise<Record<string, unknown>> { return { ok: true, todo: true }; }
