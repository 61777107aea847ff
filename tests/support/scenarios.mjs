// Named end-to-end scenarios: each prints a line with its time once it passes.

/** A run of scenarios: `scenario(name, body)` runs one, `check` fails it, `results` lists them. */
export function scenarios() {
  const results = [];
  async function scenario(name, body) {
    const started = Date.now();
    await body();
    results.push(`ok   ${name} (${Date.now() - started} ms)`);
    console.log(results.at(-1));
  }
  function check(condition, message) {
    if (!condition) throw new Error(message);
  }
  return { results, scenario, check };
}
