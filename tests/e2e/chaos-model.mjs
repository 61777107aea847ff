// What the chaos suite expects: a seeded random source, and a model of every write each actor
// made and whether it was acknowledged, from which the right final state follows exactly.

/** A seeded random source (mulberry32) with `int(n)` and `pick(list)`. */
export function rng(seed) {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  random.int = (n) => Math.floor(random() * n);
  random.pick = (list) => list[random.int(list.length)];
  return random;
}

/** A value written to one field: the last acknowledged one, and unacknowledged later ones. */
class Expected {
  constructor(initial) {
    this.acked = initial;
    this.maybe = [];
  }
  set(value) {
    this.acked = value;
    this.maybe = [];
  }
  perhaps(value) {
    this.maybe.push(value);
  }
  accepts(value) {
    return value === this.acked || this.maybe.includes(value);
  }
}

export class Model {
  constructor(sharedIds, seed) {
    // Titles carry the seed: rows of earlier seeds stay on the server.
    this.seed = seed;
    this.counter = 0;
    this.acks = 0;
    this.shared = new Map(sharedIds.map((id) => [id, { key: new Expected(null), notes: new Expected(null), tempo: new Expected(null) }]));
    // Rows each actor created: by title, with the id once acknowledged.
    this.own = new Map();
  }

  acknowledgedCount() {
    return this.acks;
  }

  nextOp(actor, random) {
    const n = ++this.counter;
    const mine = [...this.own.values()].filter((r) => r.owner === actor.name && r.id && r.deleted === 'no');
    const roll = random();
    if (roll < 0.5 || (roll >= 0.75 && mine.length === 0)) {
      const id = random.pick([...this.shared.keys()]);
      const value = actor.field === 'tempo' ? 1 + (n % 399) : `${actor.field[0]}${n}`;
      return { kind: 'shared', id, field: actor.field, value, fn: 'update', args: [id, { [actor.field]: value }], describe: `sets ${actor.field}=${value} on ${id.slice(0, 8)}` };
    }
    if (roll < 0.75) {
      const title = `${actor.name} s${this.seed} #${n}`;
      return { kind: 'create', title, fn: 'create', args: [{ title }], describe: `creates '${title}'` };
    }
    const row = random.pick(mine);
    if (random() < 0.6) {
      return { kind: 'own-edit', row, value: n, fn: 'update', args: [row.id, { durationSeconds: n }], describe: `sets durationSeconds=${n} on '${row.title}'` };
    }
    return { kind: 'delete', row, fn: 'remove', args: [row.id], describe: `deletes '${row.title}'` };
  }

  acknowledged(actor, op, result) {
    this.acks++;
    switch (op.kind) {
      case 'shared': this.shared.get(op.id)[op.field].set(op.value); break;
      case 'create': this.own.set(op.title, { owner: actor.name, title: op.title, id: result, created: 'yes', deleted: 'no', duration: new Expected(null) }); break;
      case 'own-edit': op.row.duration.set(op.value); break;
      case 'delete': op.row.deleted = 'yes'; break;
    }
  }

  unknown(actor, op) {
    switch (op.kind) {
      case 'shared': this.shared.get(op.id)[op.field].perhaps(op.value); break;
      case 'create': this.own.set(op.title, { owner: actor.name, title: op.title, id: null, created: 'maybe', deleted: 'no', duration: new Expected(null) }); break;
      case 'own-edit': op.row.duration.perhaps(op.value); break;
      case 'delete': op.row.deleted = 'maybe'; break;
    }
  }

  /**
   * Compares the server's live rows and every tab's with the model. `tabs` holds each tab's
   * rows, outbox and conflicts (`null` when the tab could not answer).
   */
  check(serverRows, tabs) {
    const problems = [];
    const byId = new Map(serverRows.map((r) => [r.id, r]));
    // Writes kept visible as failed or in conflict satisfy the guarantee; they are counted.
    const visible = new Set();
    let parked = 0;
    let pending = 0;
    for (const tab of tabs) {
      if (!tab.outbox) { pending++; continue; }
      for (const entry of tab.outbox) {
        if (entry.failed) { parked++; visible.add(entry.rowId); } else pending++;
      }
      for (const conflict of tab.conflicts || []) visible.add(conflict.rowId);
    }
    parked += [...new Set(tabs.flatMap((t) => (t.conflicts || []).map((c) => c.rowId)))].length;

    let lost = 0;
    const miss = (id, what) => {
      if (visible.has(id)) return;
      lost++;
      problems.push(`lost: ${what}`);
    };
    const wire = { key: 'key', notes: 'notes', tempo: 'tempo' };
    for (const [id, fields] of this.shared) {
      const row = byId.get(id);
      for (const [field, expected] of Object.entries(fields)) {
        const value = row ? row[wire[field]] : undefined;
        if (!expected.accepts(value)) miss(id, `${field} of ${id.slice(0, 8)} is ${JSON.stringify(value)}, acknowledged ${JSON.stringify(expected.acked)}`);
      }
    }
    const titles = new Map();
    for (const row of serverRows) titles.set(row.title, (titles.get(row.title) || 0) + 1);
    let duplicated = 0;
    for (const own of this.own.values()) {
      const copies = titles.get(own.title) || 0;
      if (copies > 1) {
        duplicated++;
        problems.push(`duplicated: '${own.title}' exists ${copies} times`);
      }
      if (own.created !== 'yes') continue;
      const row = byId.get(own.id);
      if (own.deleted === 'yes' && row) miss(own.id, `'${own.title}' was deleted but is live`);
      if (own.deleted === 'no' && !row) miss(own.id, `'${own.title}' is missing`);
      if (own.deleted === 'no' && row && !own.duration.accepts(row.durationSeconds)) {
        miss(own.id, `durationSeconds of '${own.title}' is ${row.durationSeconds}, acknowledged ${own.duration.acked}`);
      }
    }

    let diverged = 0;
    const key = (r) => JSON.stringify([r.id, r.title, r.key, r.notes, r.tempo, r.durationSeconds, r.version]);
    const serverKeys = new Set(serverRows.map(key));
    for (const tab of tabs) {
      if (!tab.rows) { diverged++; problems.push(`diverged: ${tab.name} did not answer`); continue; }
      const tabKeys = new Set(tab.rows.map(key));
      const differing = [...serverKeys].filter((k) => !tabKeys.has(k)).length + [...tabKeys].filter((k) => !serverKeys.has(k)).length;
      if (differing) {
        diverged += differing;
        problems.push(`diverged: ${tab.name} differs from the server in ${differing} row versions`);
      }
    }
    return { lost, duplicated, diverged, pending, parked, problems };
  }
}
