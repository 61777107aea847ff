// Reading a WebAssembly module's sections, for the build's scripts (scripts/short-names.mjs,
// scripts/own-code-size.mjs). Only what they need: sections, LEB128 numbers, names, imports.

/** A cursor over `bytes` from `at`. */
export class Reader {
  constructor(bytes, at = 0) {
    this.bytes = bytes;
    this.at = at;
  }

  /** An unsigned LEB128 number. */
  u32() {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = this.bytes[this.at++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (byte < 0x80) return value;
    }
  }

  byte() {
    return this.bytes[this.at++];
  }

  /** A name: its length, then its UTF-8 bytes. */
  name() {
    const length = this.u32();
    const text = this.bytes.subarray(this.at, this.at + length).toString('utf8');
    this.at += length;
    return text;
  }

  /** The bytes read since `from`. */
  since(from) {
    return this.bytes.subarray(from, this.at);
  }

  /** An import's description; returns its kind (0 for a function). */
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
    return kind;
  }

  limits() {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }

  valueType() {
    const type = this.byte();
    // (ref null? heaptype): a heap type follows, an index or a one-byte abstract type.
    if (type === 0x63 || type === 0x64) this.u32();
  }
}

/** The module's sections in order: `{ id, start, end }`, the body between `start` and `end`. */
export function sections(bytes) {
  if (bytes.readUInt32LE(0) !== 0x6d736100) throw new Error('not a WebAssembly module');
  const found = [];
  const reader = new Reader(bytes, 8);
  while (reader.at < bytes.length) {
    const id = reader.byte();
    const size = reader.u32();
    found.push({ id, start: reader.at, end: reader.at + size });
    reader.at += size;
  }
  return found;
}

/** An unsigned LEB128 number, encoded. */
export function encodeU32(value) {
  const out = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return Buffer.from(out);
}

/** A name, encoded. */
export function encodeName(name) {
  const utf8 = Buffer.from(name, 'utf8');
  return Buffer.concat([encodeU32(utf8.length), utf8]);
}
