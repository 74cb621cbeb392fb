#!/usr/bin/env node
// Transpile-only build of dist/ for a Raspberry Pi (scripts/install.sh uses it when it installs from a clone).
//
// `tsc -p tsconfig.json` type-checks the whole program and peaks near 280 MB on a Zero 2 W; the Pi needs the JavaScript
// only (type-checking is CI's job). This emits the same files as tsc (same compiler options, same source maps), one file
// at a time with TypeScript's transpileModule, so memory stays at the size of the compiler plus one file. A test checks
// that the output is identical to tsc's for every file (test/appliance/release.test.ts).
//
//   node scripts/build-lowmem.mjs [--out DIR]      (default: dist/, like tsc)
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
const configFile = path.join(repo, 'tsconfig.json');

const parsed = ts.parseJsonConfigFileContent(
  ts.parseConfigFileTextToJson(configFile, readFileSync(configFile, 'utf8')).config,
  ts.sys,
  repo,
  undefined,
  configFile,
);
if (parsed.errors.length) {
  console.error(
    ts.formatDiagnostics(parsed.errors, {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => repo,
      getNewLine: () => '\n',
    }),
  );
  process.exit(2);
}
const options = parsed.options;
const outDir = outIdx >= 0 ? path.resolve(args[outIdx + 1]) : options.outDir;
const rootDir = options.rootDir ?? repo;
// Under NodeNext a .ts file's module format comes from package.json "type" (tsc looks it up; transpileModule cannot).
const esm = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')).type === 'module';
const formatOf = (file) =>
  file.endsWith('.cts') || (!esm && !file.endsWith('.mts')) ? ts.ModuleKind.CommonJS : ts.ModuleKind.ESNext;

let count = 0;
for (const file of parsed.fileNames) {
  if (file.endsWith('.d.ts')) continue;
  const rel = path.relative(rootDir, file);
  const jsFile = path.join(
    outDir,
    rel.replace(/\.(m|c)?tsx?$/, (_m, k) => `.${k ?? ''}js`),
  );
  const text = await fs.readFile(file, 'utf8');
  const out = ts.transpileModule(text, {
    compilerOptions: {
      ...options,
      module: formatOf(file),
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      outDir: undefined,
      rootDir: undefined,
    },
    fileName: file,
    reportDiagnostics: true,
  });
  const errors = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length) {
    console.error(`${rel}: ${ts.flattenDiagnosticMessageText(errors[0].messageText, '\n')}`);
    process.exit(1);
  }
  let js = out.outputText;
  await fs.mkdir(path.dirname(jsFile), { recursive: true });
  if (out.sourceMapText) {
    // tsc writes the map beside the file with `sources` relative to it; transpileModule only knows the file's name.
    const map = JSON.parse(out.sourceMapText);
    map.file = path.basename(jsFile);
    map.sources = [path.relative(path.dirname(jsFile), file).split(path.sep).join('/')];
    await fs.writeFile(`${jsFile}.map`, JSON.stringify(map));
    js = js.replace(/\/\/# sourceMappingURL=\S+$/, `//# sourceMappingURL=${path.basename(jsFile)}.map`);
  }
  await fs.writeFile(jsFile, js);
  count++;
}
console.error(`build-lowmem: ${count} files transpiled to ${path.relative(repo, outDir) || '.'}/ (no type check)`);
