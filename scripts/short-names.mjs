// Shortens the names the module and its JavaScript glue know each other by, in pkg/.
//
// wasm-bindgen names each function the glue gives the module after what it does plus a hash
// (`__wbg_set_headers_6d75a7df4eb22716`), and the glue calls the module's functions by their
// Rust names (`wasm.syncclient_open`). Both sides carry every name, and 16 hex digits compress
// to little: about 4 KB of the compressed package. Only the glue calls these functions, so
// they can be renamed on both sides: imports from the glue module and every export become
// `$0`, `$1`, … . What the package exports to apps is the glue's own API, which keeps its names.
//
// Usage: node scripts/short-names.mjs pkg
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? 'pkg';
const GLUE = './rockon_sync_bg.js';
const files = {
  wasm: join(dir, 'rockon_sync_bg.wasm'),
  glue: join(dir, 'rockon_sync_bg.js'),
  entry: join(dir, 'rockon_sync.js'),
  types: join(dir, 'rockon_sync_bg.wasm.d.ts'),
};

/** Reads an unsigned LEB128 number at `at`; returns it and where it ends. */
function leb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at];
    at += 1;
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return [value, at];
  }
}

function encodeLeb(value) {
  const out = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}

const encodeName = (name) => {
  const utf8 = Buffer.from(name, 'utf8');
  return Buffer.concat([Buffer.from(encodeLeb(utf8.length)), utf8]);
};

/** A reader over one section's bytes. */
class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.at = 0;
  }
  u32() {
    const [value, at] = leb(this.bytes, this.at);
    this.at = at;
    return value;
  }
  byte() {
    return this.bytes[this.at++];
  }
  name() {
    const length = this.u32();
    const text = this.bytes.subarray(this.at, this.at + length).toString('utf8');
    this.at += length;
    return text;
  }
  /** The raw bytes read since `from`. */
  since(from) {
    return this.bytes.subarray(from, this.at);
  }
  limits() {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }
  /** Skips an import's description (function, table, memory, global or tag). */
  importDescription() {
    const kind = this.byte();
    if (kind === 0x00) this.u32();
    else if (kind === 0x01) {
      this.valueType();
      this.limits();
    } else if (kind === 0x02) this.limits();
    else if (kind === 0x03) {
      this.valueType();
      this.byte();
    } else if (kind === 0x04) {
      this.byte();
      this.u32();
    } else throw new Error(`unknown import kind ${kind}`);
  }
  valueType() {
    const type = this.byte();
    // (ref null? heaptype): a heap type follows, an index or a one-byte abstract type.
    if (type === 0x63 || type === 0x64) this.u32();
  }
}

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
if (wasm.readUInt32LE(0) !== 0x6d736100) throw new Error(`${files.wasm} is not a WebAssembly module`);
const imports = new Map();
const exports = new Map();
const sections = [wasm.subarray(0, 8)];
let at = 8;
while (at < wasm.length) {
  const id = wasm[at];
  const [size, start] = leb(wasm, at + 1);
  const body = wasm.subarray(start, start + size);
  let rewritten = null;
  if (id === 2) {
    const reader = new Reader(body);
    const count = reader.u32();
    const parts = [Buffer.from(encodeLeb(count))];
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
    rewritten = Buffer.concat(parts);
  } else if (id === 7) {
    const reader = new Reader(body);
    const count = reader.u32();
    const parts = [Buffer.from(encodeLeb(count))];
    for (let n = 0; n < count; n += 1) {
      const name = reader.name();
      const from = reader.at;
      reader.byte();
      reader.u32();
      exports.set(name, shortName(n));
      parts.push(encodeName(exports.get(name)), reader.since(from));
    }
    rewritten = Buffer.concat(parts);
  }
  sections.push(rewritten === null ? wasm.subarray(at, start + size) : Buffer.concat([Buffer.from([id, ...encodeLeb(rewritten.length)]), rewritten]));
  at = start + size;
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

writeFileSync(files.wasm, Buffer.concat(sections));
writeFileSync(files.glue, glue);
writeFileSync(files.entry, entry);
writeFileSync(files.types, types);
console.log(`short names: ${imports.size} imports, ${exports.size} exports`);
