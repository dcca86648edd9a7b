// The static demo in Debian's headless Chromium, driven by tests/viz_e2e.rs: the exported
// page served by a plain static file server, with no lab behind it.
//   node demo.mjs <page url> <artifact dir> <runs> <bench> <url of an export without its worker>
// where <runs> is JSON: [{"seed": 42, "scenario": "leader-crash", "digest": "<native digest>"}, ...]
// and <bench> the line `etcdlab demo --bench --members N --seconds S` printed.
// Stages (a screenshot of each is kept in the artifact dir): within 5 s of loading, three
// members and exactly one leader (the page found no lab and simulates one); the leader killed
// from the UI and a new leader; a put and a get typed into the terminal answered like etcdctl;
// then for each run, `?demo&seed=..&scenario=..` plays it and its event-log digest equals the
// one computed natively (`etcdlab demo --digest`); `?demo&bench=N&seconds=S` reports the same
// members, virtual time and event count as the native benchmark (wall times differ, unchecked);
// an export missing the simulator's worker script says so in the page.
// Prints one line per stage; exits non-zero on the first failure.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [url, artifacts, runs, bench, noWorker] = process.argv.slice(2);
mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const errors = [];
const requests = [];
let stage = 'start';
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 960 } });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  // The page asks for the lab's /api/cluster once; the file server's 404 is how it learns
  // there is no lab. Any other error counts.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().includes('404')) errors.push(`console: ${m.text()}`);
  });
  page.on('request', (r) => requests.push(r.url()));
  const shot = (name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  // SVG elements are clicked by event: messages flying over them would take a pointer click.
  const wait = (fn, arg, timeout = 20000) => page.waitForFunction(fn, arg, { timeout, polling: 100 });
  const leaderOf = () => page.$eval('g[data-role="leader"]', (g) => ({
    name: g.dataset.node, term: Number(g.dataset.term) }));

  stage = 'three members and one leader within 5 s, no lab';
  const loaded = Date.now();
  await page.goto(url);
  await wait(() => document.querySelectorAll('g[data-node]').length === 3
    && document.querySelectorAll('g[data-node][data-role="leader"]').length === 1,
  null, Math.max(1, 5000 - (Date.now() - loaded)));
  const leader = await leaderOf();
  if (!(await page.$('[data-demo]'))) throw new Error('the page is not in demo mode');
  await shot('1-demo-leader');
  console.log(`ok: demo, 3 members, leader ${leader.name} in term ${leader.term} after ${Date.now() - loaded} ms`);

  stage = 'kill the leader from the UI';
  await page.dispatchEvent(`g[data-node="${leader.name}"]`, 'click');
  await page.click('.member-controls button[data-action="kill"]');
  await wait((old) => {
    const down = document.querySelector(`g[data-node="${old.name}"]`)?.dataset.role === 'down';
    const next = [...document.querySelectorAll('g[data-role="leader"]')]
      .filter((g) => g.dataset.node !== old.name && Number(g.dataset.term) > old.term);
    return down && next.length === 1;
  }, leader);
  const next = await leaderOf();
  await shot('2-demo-new-leader');
  console.log(`ok: ${leader.name} down, new leader ${next.name} in term ${next.term}`);

  stage = 'put and get through the terminal';
  // Types a line and waits for `answer` printed after it.
  const answered = async (line, answer) => {
    await page.fill('input[data-terminal-input]', line);
    await page.press('input[data-terminal-input]', 'Enter');
    await wait(([line, answer]) => {
      const lines = [...document.querySelectorAll('[data-terminal] .line')].map((l) => l.textContent);
      return lines.slice(lines.lastIndexOf(`$ ${line}`) + 1).includes(answer);
    }, [line, answer]);
  };
  await answered('put demo-key hello', 'OK');
  await answered('get demo-key', 'hello');
  await shot('3-demo-terminal');
  console.log('ok: put answered OK, get answered hello');

  for (const { seed, scenario, digest: expected } of JSON.parse(runs)) {
    stage = `seed ${seed} ${scenario} runs in the page as natively`;
    const runUrl = new URL(url);
    runUrl.search = `?demo&seed=${seed}&scenario=${scenario}&speed=4`;
    await page.goto(runUrl.href);
    await wait(() => document.querySelector('[data-sim-digest]')?.dataset.simDigest, null, 30000);
    const digest = await page.$eval('[data-sim-digest]', (e) => e.dataset.simDigest);
    await shot(`4-demo-digest-${scenario}`);
    if (digest !== expected) throw new Error(`page digest "${digest}", native "${expected}"`);
    console.log(`ok: seed ${seed} ${scenario}: digest ${digest} in the page and natively`);
  }

  stage = 'the benchmark simulates in the page what it simulates natively';
  const fields = (line) => Object.fromEntries(line.split(' ').map((f) => f.split('=')));
  const native = fields(bench);
  const benchUrl = new URL(url);
  benchUrl.search = `?demo&bench=${native.members}&seconds=${Math.round(Number(native.sim_s))}`;
  await page.goto(benchUrl.href);
  await wait(() => document.querySelector('[data-sim-bench]')?.dataset.simBench, null, 60000);
  const inPage = fields(await page.$eval('[data-sim-bench]', (e) => e.dataset.simBench));
  for (const field of ['members', 'sim_s', 'events']) {
    if (inPage[field] !== native[field]) {
      throw new Error(`page benchmark ${JSON.stringify(inPage)}, native ${JSON.stringify(native)}`);
    }
  }
  await shot('5-demo-bench');
  console.log(`ok: benchmark, ${inPage.events} events in the page and natively; `
    + `speed-up ${inPage.speedup}x in the page, ${native.speedup}x natively`);

  stage = 'a demo without its simulator says so';
  // Its 404 is expected here, and the error it reports.
  const before = errors.length;
  await page.goto(noWorker);
  await wait(() => document.querySelector('[data-sim-error]')?.textContent.includes('did not load'));
  await shot('6-demo-no-worker');
  errors.splice(before);
  console.log(`ok: without its worker: ${await page.$eval('[data-sim-error]', (e) => e.textContent.trim())}`);

  const origin = new URL(url).origin;
  const foreign = requests.filter((r) => !r.startsWith(origin) && !r.startsWith('data:'));
  if (foreign.length) throw new Error(`fetched from elsewhere: ${foreign.join(', ')}`);
  if (errors.length) throw new Error(errors.join('\n'));
} catch (e) {
  console.error(`FAILED at "${stage}": ${e.message}`);
  if (errors.length) console.error(errors.join('\n'));
  process.exitCode = 1;
} finally {
  await browser.close();
}
