import { configReference } from '../config/example.js';
import { commands } from './registry.js';

const BEGIN = (what: string) => `<!-- BEGIN GENERATED ${what} (npm run docs) -->`;
const END = (what: string) => `<!-- END GENERATED ${what} -->`;

export function configReferenceMarkdown(): string {
  const rows = configReference().map(
    (r) => `| \`${r.key}\` | ${r.type} | \`${r.default}\` | ${r.description.replace(/\|/g, '\\|')} |`,
  );
  return ['| key | type | default | description |', '|---|---|---|---|', ...rows].join('\n');
}

export function cliReferenceMarkdown(): string {
  const rows = [...commands]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((c) => `| \`pinhole ${c.name}${c.usage ? ` ${c.usage}` : ''}\` | ${c.summary.replace(/\|/g, '\\|')} |`);
  return ['| command | what it does |', '|---|---|', ...rows].join('\n');
}

/** Replaces the generated blocks of the README with the current references. */
export function updateReadme(readme: string): string {
  let out = readme;
  for (const [what, body] of [
    ['CONFIG REFERENCE', configReferenceMarkdown()],
    ['CLI REFERENCE', cliReferenceMarkdown()],
  ] as const) {
    const b = BEGIN(what);
    const e = END(what);
    const i = out.indexOf(b);
    const j = out.indexOf(e);
    if (i < 0 || j < i) throw new Error(`README has no ${what} markers`);
    out = `${out.slice(0, i + b.length)}\n${body}\n${out.slice(j)}`;
  }
  return out;
}
