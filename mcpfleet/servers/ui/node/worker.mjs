// The ui server's Tailwind CSS worker: one long-lived process, newline-delimited JSON on stdin/stdout.
//
//   request:  {"id": 1, "op": "build", "classes": ["p-4", ...], "theme": "@theme { ... }", "max_chars": 60000}
//   answer:   {"id": 1, "ok": true, "css": "...", "unknown": ["bogus"], "truncated": false, "version": "4.3.5",
//              "invalid": [{"class": "w-[--x]", "property": "width", "value": "--x"}], "checked": true}
//   request:  {"id": 3, "op": "canonicalize", "classes": ["!p-2"]}  ->  {"id": 3, "ok": true, "canonical": {"!p-2": "p-2!"}}
//             (the compiler's own canonical spelling; its first call builds indexes for ~10 s, so the
//             tool does not use it: tests check the Python-side rules against it)
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

// css-tree (installed beside tailwindcss) matches each emitted declaration against the CSS
// grammars of mdn-data, so a class whose CSS no browser would accept is named. Without it the
// worker still compiles and says `checked: false`.
let csstree = null;
try {
  csstree = await import(pathToFileURL(path.join(pkgDir, '..', 'css-tree', 'lib', 'index.js')).href);
} catch {
  process.stderr.write('css-tree is not installed beside tailwindcss; emitted CSS is not checked\n');
}

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

// Declarations whose value the property's grammar rejects. A value with var() cannot be matched
// before it is substituted, and custom properties take anything: both are left alone, as are
// properties css-tree does not know (it cannot tell a new property from a typo).
function invalidDeclarations(css) {
  if (!csstree || !css) return [];
  const found = [];
  let ast;
  try {
    ast = csstree.parse(css, { parseValue: true, parseCustomProperty: false });
  } catch {
    return [];
  }
  csstree.walk(ast, {
    visit: 'Declaration',
    enter(node) {
      if (node.property.startsWith('--')) return;
      const match = csstree.lexer.matchDeclaration(node);
      if (match.error && match.error.name === 'SyntaxMatchError') {
        found.push({ property: node.property, value: csstree.generate(node.value) });
      }
    },
  });
  return found;
}

// The compiler's own spelling of each class where it differs (`!p-2` -> `p-2!`,
// `bg-gradient-to-r` -> `bg-linear-to-r`), asked one class at a time so nothing is merged.
function canonicalForms(ds, classes) {
  const forms = {};
  if (typeof ds.canonicalizeCandidates !== 'function') return forms;
  for (const candidate of classes) {
    try {
      const [form] = ds.canonicalizeCandidates([candidate]);
      if (form && form !== candidate) forms[candidate] = form;
    } catch {
      // a candidate the canonicaliser cannot handle keeps its spelling
    }
  }
  return forms;
}

async function build(request) {
  const classes = Array.isArray(request.classes) ? request.classes.filter((c) => typeof c === 'string') : [];
  const theme = typeof request.theme === 'string' ? request.theme : '';
  const ds = await designSystem(theme);
  const perClass = ds.candidatesToCss(classes);
  const unknown = classes.filter((_, i) => perClass[i] === null);
  const invalid = [];
  classes.forEach((candidate, i) => {
    for (const decl of invalidDeclarations(perClass[i])) invalid.push({ class: candidate, ...decl });
  });
  // A fresh compiler per request: a compiler remembers every candidate it has built.
  const compiler = await takeCompiler(theme);
  let css = compiler.build(classes.filter((_, i) => perClass[i] !== null));
  css = css.replace(/^\/\*! tailwindcss v[^*]*\*\/\n/, '');
  const max = Number.isInteger(request.max_chars) && request.max_chars > 0 ? request.max_chars : 60000;
  const truncated = css.length > max;
  if (truncated) css = css.slice(0, max);
  return { css, unknown, truncated, version: pkg.version, invalid, checked: csstree !== null };
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
    else if (request.op === 'canonicalize') {
      const classes = Array.isArray(request.classes) ? request.classes.filter((c) => typeof c === 'string') : [];
      send({ id, ok: true, canonical: canonicalForms(await designSystem(''), classes) });
    }
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
