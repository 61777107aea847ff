// Two browsers through the demo page, as people use it: alice in Firefox (Debian's firefox-esr
// through geckodriver, driven by selenium-webdriver) and bob in Chromium (playwright-core), live
// both ways; then alice in both browsers at once, each browser with its own leading tab, both
// live. The dev server and its PostgreSQL are started and stopped here, on loopback.
// Usage: node tests/e2e/browsers.mjs <rockon-devserver binary>   (GECKODRIVER: the driver)
import { chromium } from 'playwright-core';
import { Builder, By, until } from 'selenium-webdriver';
import firefox from 'selenium-webdriver/firefox.js';
import { CHROMIUM_FLAGS } from '../support/browser.mjs';
import { start as startProcess, stop } from '../support/processes.mjs';
import { scenarios } from '../support/scenarios.mjs';

const BIN = process.argv[2];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const start = (command, args, prefix) => startProcess(command, args, prefix, { stderr: 'inherit' });

const { results, scenario, check } = scenarios();
async function eventually(what, condition, ms = 15000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await sleep(100);
  }
  throw new Error(`timed out: ${what}`);
}

const postgres = start(BIN, ['postgres'], 'rockon-devserver postgres ');
const database = await postgres.line;
const port = String(20000 + Math.floor(Math.random() * 20000));
const devserver = start(BIN, ['serve', '--port', port, '--database-url', database, '--bootstrap'], 'rockon-devserver ready ');
const ready = JSON.parse(await devserver.line);
const page = start('node', ['www/serve.mjs', '0', ready.url, ready.anonKey], 'demo page ready ');
const demo = await page.line;

/** The demo in Chromium, through playwright. */
function inChromium(tab) {
  return {
    name: 'Chromium',
    click: (css) => tab.click(css),
    fill: (css, text) => tab.fill(css, text),
    labels: () => tab.locator('[data-testid=item-label]').allTextContents(),
    details: () => tab.locator('[data-testid=item] .detail').allTextContents(),
    text: async (css) => (await tab.locator(css).count() ? tab.textContent(css) : null),
    open: (label) => tab.locator('[data-testid=item]', { hasText: label }).click(),
  };
}

/** The demo in Firefox, through selenium-webdriver and geckodriver. */
function inFirefox(driver) {
  const texts = async (css) => Promise.all((await driver.findElements(By.css(css))).map((e) => e.getText()));
  return {
    name: 'Firefox',
    // Found as Playwright finds it for Chromium: waiting for the element to be there (the
    // page renders a moment after it says it is connected), not failing at once.
    click: async (css) => (await driver.wait(until.elementLocated(By.css(css)), 5_000)).click(),
    fill: async (css, text) => {
      const input = await driver.wait(until.elementLocated(By.css(css)), 5_000);
      await input.clear();
      await input.sendKeys(text);
    },
    labels: () => texts('[data-testid=item-label]'),
    details: () => texts('[data-testid=item] .detail'),
    text: async (css) => {
      const found = await driver.findElements(By.css(css));
      return found.length ? found[0].getText() : null;
    },
    open: async (label) => {
      for (const item of await driver.findElements(By.css('[data-testid=item]'))) {
        if ((await item.getText()).includes(label)) return item.click();
      }
      throw new Error(`no item ${label}`);
    },
  };
}

const connected = (user) => eventually(`${user.name} connected`, async () =>
  (await user.text('[data-testid=connection][data-state=connected]')) !== null);

async function createSong(user, title) {
  await user.click('[data-testid=new-item]');
  await user.fill('[data-testid=editor] input[name=title]', title);
  await user.click('[data-testid=save]');
  await eventually(`${user.name} lists ${title}`, async () => (await user.labels()).includes(title));
}

async function setKey(user, title, key) {
  await user.open(title);
  await user.fill('[data-testid=editor] input[name=key]', key);
  await user.click('[data-testid=save]');
}

/** Whether this tab holds its browser's connection, as the connection details say. */
async function leads(user) {
  await user.click('[data-testid=connection]');
  const details = await user.text('[data-testid=connection-details]');
  await user.click('[data-testid=connection]');
  return details.includes('holds the connection');
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
const options = new firefox.Options().addArguments('-headless').setBinary('/usr/bin/firefox-esr');
const driver = await new Builder()
  .forBrowser('firefox')
  .setFirefoxOptions(options)
  .setFirefoxService(new firefox.ServiceBuilder(process.env.GECKODRIVER))
  .build();
let failure = null;
try {
  await driver.manage().window().setRect({ width: 1100, height: 760 });
  await driver.get(`${demo}?user=alice`);
  const alice = inFirefox(driver);
  const bobTab = await (await browser.newContext()).newPage();
  await bobTab.setViewportSize({ width: 1100, height: 760 });
  await bobTab.goto(`${demo}?user=bob`);
  const bob = inChromium(bobTab);
  await connected(alice);
  await connected(bob);

  await scenario('alice in Firefox and bob in Chromium: each sees the other\'s changes live', async () => {
    const title = `Across browsers ${Date.now()}`;
    await createSong(alice, title);
    await eventually('bob sees alice\'s song', async () => (await bob.labels()).includes(title));
    await setKey(bob, title, 'Dm');
    await eventually('alice sees bob\'s key', async () => (await alice.details()).some((d) => d.includes('in Dm')));
  });

  await scenario('alice in Firefox and in a Chromium profile: each browser leads on its own, both live', async () => {
    const aliceTab = await (await browser.newContext()).newPage();
    await aliceTab.setViewportSize({ width: 1100, height: 760 });
    await aliceTab.goto(`${demo}?user=alice`);
    const second = inChromium(aliceTab);
    await connected(second);
    check(await leads(alice), 'Firefox leads its own tabs');
    check(await leads(second), 'the Chromium profile leads its own tabs');
    const fromChromium = `From alice's laptop ${Date.now()}`;
    await createSong(second, fromChromium);
    await eventually('Firefox shows it', async () => (await alice.labels()).includes(fromChromium));
    const fromFirefox = `From alice's phone ${Date.now()}`;
    await createSong(alice, fromFirefox);
    await eventually('Chromium shows it', async () => (await second.labels()).includes(fromFirefox));
    await eventually('bob too', async () => (await bob.labels()).includes(fromFirefox));
  });
  console.log(`browsers e2e: ok (${results.length} scenarios: Firefox ${(await driver.getCapabilities()).getBrowserVersion()}, Chromium ${browser.version()})`);
} catch (error) {
  failure = error;
} finally {
  await driver.quit().catch(() => {});
  await browser.close();
  await stop(page.child);
  await stop(devserver.child);
  await stop(postgres.child);
}
if (failure) {
  console.log(`browsers e2e: FAILED ${failure.stack ?? failure}`);
  process.exit(1);
}
