// Shortens the names the module and its JavaScript glue know each other by, in pkg/.
//
// wasm-bindgen names each function the glue gives the module after what it does plus a hash
// (`__wbg_set_headers_6d75a7df4eb22716`), and the glue calls the module's functions by their
// Rust names (`wasm.syncclient_open`). Both sides carry every name, and 16 hex digits compress
// to little: about 3 KB of the compressed package. Only the glue calls these functions, so
// they can be renamed on both sides: imports from the glue module and every export become
// `$0`, `$1`, … . What the package exports to apps is the glue's own API, which keeps its names.
//
// Usage: node scripts/short-names.mjs pkg
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Reader, encodeName, encodeU32, sections } from './wasm-reader.mjs';

const dir = process.argv[2] ?? 'pkg';
const GLUE = './rockon_sync_bg.js';
const files = {
  wasm: join(dir, 'rockon_sync_bg.wasm'),
  glue: join(dir, 'rockon_sync_bg.js'),
  entry: join(dir, 'rockon_sync.js'),
  types: join(dir, 'rockon_sync_bg.wasm.d.ts'),
};

/** `$0`, `$1`, … `$Z`, `$10`, …: identifiers in JavaScript, and none the glue already has. */
function shortName(n) {
  const digits = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let text = '';
  do {
    text = digits[n % digits.length] + text;
    n = Math.floor(n / digits.length);
  } while (n > 0);
  return `$${text}`;
}

const wasm = readFileSync(files.wasm);
const imports = new Map();
const exports = new Map();

/** The import section with the glue's functions renamed. */
function renameImports(reader) {
  const count = reader.u32();
  const parts = [encodeU32(count)];
  for (let n = 0; n < count; n += 1) {
    const module = reader.name();
    let field = reader.name();
    const from = reader.at;
    reader.importDescription();
    if (module === GLUE) {
      if (!imports.has(field)) imports.set(field, shortName(imports.size));
      field = imports.get(field);
    }
    parts.push(encodeName(module), encodeName(field), reader.since(from));
  }
  return Buffer.concat(parts);
}

/** The export section with every export renamed. */
function renameExports(reader) {
  const count = reader.u32();
  const parts = [encodeU32(count)];
  for (let n = 0; n < count; n += 1) {
    const name = reader.name();
    const from = reader.at;
    reader.byte();
    reader.u32();
    exports.set(name, shortName(n));
    parts.push(encodeName(exports.get(name)), reader.since(from));
  }
  return Buffer.concat(parts);
}

const rewritten = [wasm.subarray(0, 8)];
let previous = 8;
for (const { id, start, end } of sections(wasm)) {
  const rewriteSection = { 2: renameImports, 7: renameExports }[id];
  if (rewriteSection) {
    const body = rewriteSection(new Reader(wasm.subarray(start, end)));
    rewritten.push(Buffer.from([id]), encodeU32(body.length), body);
  } else {
    rewritten.push(wasm.subarray(previous, end));
  }
  previous = end;
}

/** Replaces each name `pattern` finds (after its first group) by its short name; fails on one it does not know. */
function rename(text, pattern, names, what) {
  return text.replace(pattern, (_, before, name) => {
    const short = names.get(name);
    if (short === undefined) throw new Error(`${what}: ${name} is not one the module has`);
    return before + short;
  });
}

let glue = readFileSync(files.glue, 'utf8');
// Each function the module imports from the glue is defined there once, as an export.
for (const [name, short] of imports) {
  const definition = new RegExp(`^export function ${name.replace(/\$/g, '\\$')}\\(`, 'gm');
  const found = glue.match(definition)?.length ?? 0;
  if (found !== 1) throw new Error(`${files.glue} defines ${name} ${found} times`);
  glue = glue.replace(definition, `export function ${short}(`);
}
glue = rename(glue, /(\bwasm\.)([A-Za-z_$][\w$]*)/g, exports, files.glue);
const entry = rename(readFileSync(files.entry, 'utf8'), /(\bwasm\.)([A-Za-z_$][\w$]*)/g, exports, files.entry);
const types = rename(readFileSync(files.types, 'utf8'), /^(export (?:const|function) )([A-Za-z_$][\w$]*)/gm, exports, files.types);

writeFileSync(files.wasm, Buffer.concat(rewritten));
writeFileSync(files.glue, glue);
writeFileSync(files.entry, entry);
writeFileSync(files.types, types);
console.log(`short names: ${imports.size} imports, ${exports.size} exports`);
