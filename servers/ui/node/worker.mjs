// The ui server's Tailwind CSS worker: one long-lived process, newline-delimited JSON on stdin/stdout.
//
//   request:  {"id": 1, "op": "build", "classes": ["p-4", ...], "theme": "@theme { ... }", "max_chars": 60000}
//   answer:   {"id": 1, "ok": true, "css": "...", "unknown": ["bogus"], "truncated": false, "version": "4.3.5"}
//   failure:  {"id": 1, "ok": false, "error": "..."}
//   request:  {"id": 2, "op": "ping"}  ->  {"id": 2, "ok": true, "version": "4.3.5"}
//
// Usage: node worker.mjs <directory of the tailwindcss package>
//
// The classes are data handed to the compiler API; the theme is CSS text that the Python side has
// already restricted to @theme/@keyframes. As a second line of defence the compiler's loaders
// answer only tailwindcss's own stylesheets and never load a module (no @plugin, no @config).

import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';

const pkgDir = path.resolve(process.argv[2] || '');
const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
if (pkg.name !== 'tailwindcss' || !pkg.version.startsWith('4.')) {
  process.stderr.write(`expected tailwindcss v4 in ${pkgDir}, found ${pkg.name} ${pkg.version}\n`);
  process.exit(2);
}
const tailwind = await import(pathToFileURL(path.join(pkgDir, 'dist', 'lib.mjs')).href);

// tailwindcss's own stylesheets, read once: the only things @import may name.
const STYLESHEETS = new Map();
for (const file of ['index.css', 'theme.css', 'utilities.css', 'preflight.css']) {
  const content = fs.readFileSync(path.join(pkgDir, file), 'utf8');
  const stem = file.replace(/\.css$/, '');
  for (const id of [`tailwindcss/${file}`, `tailwindcss/${stem}`]) STYLESHEETS.set(id, { path: path.join(pkgDir, file), base: pkgDir, content });
}
STYLESHEETS.set('tailwindcss', STYLESHEETS.get('tailwindcss/index.css'));

const options = {
  base: pkgDir,
  async loadStylesheet(id) {
    const sheet = STYLESHEETS.get(id);
    if (!sheet) throw new Error(`@import of ${JSON.stringify(String(id).slice(0, 100))} is not allowed`);
    return sheet;
  },
  async loadModule(id) {
    throw new Error(`loading ${JSON.stringify(String(id).slice(0, 100))} is not allowed (no plugins or configs)`);
  },
};

function inputCss(theme) {
  // The user's @theme comes after the defaults, so it extends or overrides them.
  return `@import "tailwindcss/theme.css";\n${theme || ''}\n@tailwind utilities;\n`;
}

// Design systems answer "which of these classes produce CSS"; building one costs about as much as
// a compile, so the last few (by theme text) are kept.
const designSystems = new Map();
const DESIGN_SYSTEM_CACHE = 8;

async function designSystem(theme) {
  const key = theme || '';
  let ds = designSystems.get(key);
  if (ds) {
    designSystems.delete(key);
  } else {
    ds = await tailwind.__unstable__loadDesignSystem(inputCss(theme), options);
    if (designSystems.size >= DESIGN_SYSTEM_CACHE) designSystems.delete(designSystems.keys().next().value);
  }
  designSystems.set(key, ds);
  return ds;
}

// A compiler remembers every candidate it has built, so each request needs a fresh one. Making
// one costs most of a request's time; the next compiler for a theme is therefore made right after
// a request is answered, while the worker would otherwise wait for input.
const spares = new Map();
const SPARES = 4;

function takeCompiler(theme) {
  const spare = spares.get(theme);
  spares.delete(theme);
  return spare ?? tailwind.compile(inputCss(theme), options);
}

function prepareCompiler(theme) {
  if (spares.has(theme)) return;
  const next = tailwind.compile(inputCss(theme), options);
  next.catch(() => {}); // a failing theme fails again, visibly, when a request takes it
  spares.set(theme, next);
  while (spares.size > SPARES) spares.delete(spares.keys().next().value);
}

async function build(request) {
  const classes = Array.isArray(request.classes) ? request.classes.filter((c) => typeof c === 'string') : [];
  const theme = typeof request.theme === 'string' ? request.theme : '';
  const ds = await designSystem(theme);
  const perClass = ds.candidatesToCss(classes);
  const unknown = classes.filter((_, i) => perClass[i] === null);
  // A fresh compiler per request: a compiler remembers every candidate it has built.
  const compiler = await takeCompiler(theme);
  let css = compiler.build(classes.filter((_, i) => perClass[i] !== null));
  css = css.replace(/^\/\*! tailwindcss v[^*]*\*\/\n/, '');
  const max = Number.isInteger(request.max_chars) && request.max_chars > 0 ? request.max_chars : 60000;
  const truncated = css.length > max;
  if (truncated) css = css.slice(0, max);
  return { css, unknown, truncated, version: pkg.version };
}

function send(message) {
  process.stdout.write(JSON.stringify(message) + '\n');
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
// One request at a time, in order: compiling is synchronous work on this one thread anyway.
for await (const line of lines) {
  if (!line.trim()) continue;
  let request;
  try {
    request = JSON.parse(line);
  } catch {
    send({ id: null, ok: false, error: 'request is not JSON' });
    continue;
  }
  const id = request.id ?? null;
  try {
    if (request.op === 'ping') send({ id, ok: true, version: pkg.version });
    else if (request.op === 'build') {
      send({ id, ok: true, ...(await build(request)) });
      const theme = typeof request.theme === 'string' ? request.theme : '';
      setImmediate(() => prepareCompiler(theme));
    }
    else send({ id, ok: false, error: `unknown op ${JSON.stringify(String(request.op)).slice(0, 40)}` });
  } catch (err) {
    send({ id, ok: false, error: String(err && err.message ? err.message : err).slice(0, 500) });
  }
}
