// Loads the webpack bundle of the optimised package in headless Chromium and checks the page's
// verdict. Usage: node tests/release/run.mjs <ws-server>
import { serve, runPage } from '../support/browser.mjs';

const server = process.argv[2];
const web = await serve('dist/release-check', 'check.js');
let outcome;
try {
  outcome = await runPage(`${web.url}?server=${encodeURIComponent(server)}`, 'releaseCheck', 20000);
} finally {
  web.close();
}
const { result: verdict, errors } = outcome;
if (!verdict.ok || errors.length) {
  console.error('release check FAILED:', verdict.error || '', errors.join('\n'));
  process.exit(1);
}
console.log(`release check: ok (rockon-sync ${verdict.version}; vsn 2: ${verdict.v2.length} events, vsn 1: ${verdict.v1.length} events)`);
