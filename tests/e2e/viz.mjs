// End-to-end check of the visualizer in Debian's headless Chromium, driven by
// tests/viz_e2e.rs against a running lab:
//   node viz.mjs <lab url> <artifact dir>
// Stages (a screenshot of each is kept in the artifact dir): three members and exactly one
// leader; the leader killed from the UI and a new leader with a higher term; a put typed
// into the terminal, committed in every live member's log; the killed member restarted
// from the UI and caught up; a link cut and mended by clicking it; and never a request for the
// demo's simulator (its worker and wasm). Prints one line per stage;
// exits non-zero on the first failure.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [url, artifacts] = process.argv.slice(2);
mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const errors = [];
let stage = 'start';
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 960 } });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  // A page on a lab never loads the demo's simulator (its Web Worker and wasm).
  page.on('request', (r) => {
    if (r.url().includes('etcdlab-sim')) errors.push(`the lab's page loaded ${r.url()}`);
  });
  const shot = (name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  // SVG elements are clicked by event: messages flying over them would take a pointer click.
  const wait = (fn, arg, timeout = 20000) => page.waitForFunction(fn, arg, { timeout, polling: 100 });

  stage = 'three members, one leader';
  await page.goto(url);
  await wait(() => document.querySelectorAll('g[data-node]').length === 3
    && document.querySelectorAll('g[data-node][data-role="leader"]').length === 1);
  const leader = await page.$eval('g[data-role="leader"]', (g) => ({
    name: g.dataset.node, term: Number(g.dataset.term) }));
  await shot('1-leader');
  console.log(`ok: 3 members, leader ${leader.name} in term ${leader.term}`);

  stage = 'kill the leader from the UI';
  await page.dispatchEvent(`g[data-node="${leader.name}"]`, 'click');
  await page.click('.member-controls button[data-action="kill"]');
  await wait((old) => {
    const down = document.querySelector(`g[data-node="${old.name}"]`)?.dataset.role === 'down';
    const next = [...document.querySelectorAll('g[data-role="leader"]')]
      .filter((g) => g.dataset.node !== old.name && Number(g.dataset.term) > old.term);
    return down && next.length === 1;
  }, leader, 30000);
  const next = await page.$eval('g[data-role="leader"]', (g) => ({
    name: g.dataset.node, term: Number(g.dataset.term) }));
  await shot('2-new-leader');
  console.log(`ok: ${leader.name} down, new leader ${next.name} in term ${next.term}`);

  stage = 'put through the terminal';
  await page.fill('input[data-terminal-input]', 'put e2e-key hello');
  await page.press('input[data-terminal-input]', 'Enter');
  await wait(() => [...document.querySelectorAll('[data-terminal] .line')]
    .some((l) => l.textContent === 'OK'));
  const committedOn = (names) => wait((names) => names.every((name) => {
    const row = document.querySelector(`[data-log="${name}"]`);
    return row && [...row.querySelectorAll('[data-entry]')]
      .some((e) => e.title === 'put e2e-key=hello' && e.dataset.committed === 'true');
  }), names, 20000);
  const live = await page.$$eval('g[data-node]', (gs) => gs
    .filter((g) => g.dataset.role !== 'down').map((g) => g.dataset.node));
  await committedOn(live);
  await shot('3-put-committed');
  console.log(`ok: put committed on ${live.join(', ')}`);

  stage = 'restart the killed member from the UI';
  await page.dispatchEvent(`g[data-node="${leader.name}"]`, 'click');
  await page.click('.member-controls button[data-action="restart"]');
  await committedOn([leader.name]);
  await shot('4-caught-up');
  console.log(`ok: ${leader.name} restarted and caught up`);

  stage = 'cut and mend a link by clicking it';
  const link = await page.$eval('g[data-link]', (g) => g.dataset.link);
  await page.dispatchEvent(`g[data-link="${link}"]`, 'click');
  await wait((l) => document.querySelector(`g[data-link="${l}"] line.link.cut`) !== null, link);
  await shot('5-link-cut');
  await page.dispatchEvent(`g[data-link="${link}"]`, 'click');
  await wait((l) => document.querySelector(`g[data-link="${l}"] line.link.cut`) === null, link);
  console.log(`ok: link ${link} cut and mended`);

  if (errors.length) throw new Error(errors.join('\n'));
} catch (e) {
  console.error(`FAILED at "${stage}": ${e.message}`);
  if (errors.length) console.error(errors.join('\n'));
  process.exitCode = 1;
} finally {
  await browser.close();
}
