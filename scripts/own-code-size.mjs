// How much of the module's code is the project's own, compressed on its own: the functions
// whose names carry `rockon_sync` (the core and the shell, and library code instantiated for
// their types) against every other function. Data, imports, exports and the glue are left out.
// It reads the function names, so it needs a build that keeps them:
//
//   KEEP_NAMES=1 bash scripts/build-pkg.sh && node scripts/own-code-size.mjs pkg/rockon_sync_bg.wasm
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { Reader, sections } from './wasm-reader.mjs';

const file = process.argv[2] ?? 'pkg/rockon_sync_bg.wasm';
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
