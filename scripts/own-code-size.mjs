// How much of the module's code is the project's own, compressed on its own: the functions
// whose names carry `rockon_sync` (the core and the shell, and library code instantiated for
// their types) against every other function. Data, imports, exports and the glue are left out.
// It reads the function names, so it needs a build that keeps them:
//
//   KEEP_NAMES=1 bash scripts/build-pkg.sh && node scripts/own-code-size.mjs pkg/rockon_sync_bg.wasm
//
// With `--modules` it also prints the project's modules (three levels of path, such as
// `rockon_sync_core::sync::writes`), each deflated on its own, and what the optional features
// (below) come to: their share of the modules' sum, and that share of the project's own code
// deflated together, since a module deflated alone loses what it shares with the others.
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { Reader, sections } from './wasm-reader.mjs';

const args = process.argv.slice(2);
const file = args.find((arg) => !arg.startsWith('--')) ?? 'pkg/rockon_sync_bg.wasm';
const bytes = readFileSync(file);

// Functions are numbered imports first, so a body's name is at its index plus theirs.
let importedFunctions = 0;
const bodies = [];
const names = new Map();
for (const { id, start, end } of sections(bytes)) {
  const reader = new Reader(bytes.subarray(0, end), start);
  if (id === 2) {
    for (let count = reader.u32(); count > 0; count -= 1) {
      reader.name();
      reader.name();
      if (reader.importDescription() === 0) importedFunctions += 1;
    }
  } else if (id === 10) {
    for (let count = reader.u32(); count > 0; count -= 1) {
      const length = reader.u32();
      bodies.push(bytes.subarray(reader.at, reader.at + length));
      reader.at += length;
    }
  } else if (id === 0 && reader.name() === 'name') {
    while (reader.at < end) {
      const subsection = reader.byte();
      const length = reader.u32();
      const next = reader.at + length;
      if (subsection === 1) {
        for (let count = reader.u32(); count > 0; count -= 1) names.set(reader.u32(), reader.name());
      }
      reader.at = next;
    }
  }
}
if (names.size === 0) throw new Error(`${file} keeps no function names: build it with KEEP_NAMES=1`);

const own = [];
const other = [];
bodies.forEach((body, n) => (/rockon_sync/.test(names.get(importedFunctions + n) ?? '') ? own : other).push(body));
const figure = (parts) => {
  const raw = Buffer.concat(parts);
  return `${parts.length} functions, ${raw.length} bytes, ${deflateSync(raw, { level: 9 }).length} deflated`;
};
console.log(`the project's own code: ${figure(own)}`);
console.log(`everything else:        ${figure(other)}`);
console.log(`all code:               ${figure([...own, ...other])}`);

// Features an app could do without and still sync: unread marks, notifications, the activity
// feed, presence, conflict resolution, devtools and the dashboard, the standalone connection
// and the storage checks.
const OPTIONAL = /feed|activity|notify|unread|presence|devtools|dashboard|realtime_driver|api::realtime|collaboration|merge|storage/;

if (args.includes('--modules')) {
  const modules = new Map();
  bodies.forEach((body, n) => {
    const path = (names.get(importedFunctions + n) ?? '').match(/rockon_sync[a-z_]*(::[A-Za-z_0-9]+)*/);
    if (!path) return;
    const module = path[0].split('::').slice(0, 3).join('::');
    if (!modules.has(module)) modules.set(module, []);
    modules.get(module).push(body);
  });
  const rows = [...modules].map(([module, parts]) => [module, deflateSync(Buffer.concat(parts), { level: 9 }).length]);
  rows.sort((a, b) => b[1] - a[1]);
  for (const [module, deflated] of rows) console.log(`${String(deflated).padStart(7)}  ${module}`);
  const sum = rows.reduce((total, [, deflated]) => total + deflated, 0);
  const optional = rows.filter(([module]) => OPTIONAL.test(module)).reduce((total, [, deflated]) => total + deflated, 0);
  const ownDeflated = deflateSync(Buffer.concat(own), { level: 9 }).length;
  console.log(`optional features: ${optional} of ${sum} deflated module by module (${((100 * optional) / sum).toFixed(1)} %), about ${Math.round((optional / sum) * ownDeflated)} of the own code's ${ownDeflated}`);
}
