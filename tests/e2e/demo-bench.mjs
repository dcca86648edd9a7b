// The simulator's speed in the page, in headless Chromium (a benchmark, not a test):
//   node demo-bench.mjs <page url with ?demo&bench=N> [animated seconds]
// Waits for the page's own timing of the simulator alone (its data-sim-bench attribute: the
// line `etcdlab demo --bench` prints), then measures the page animating the same workload at
// its fastest playback speed: frames/s, the longest frame and virtual seconds per wall second.
// Prints one JSON line.
import { chromium } from 'playwright-core';

const [url, seconds = '10'] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 960 } });
  await page.goto(url);
  // The report, or why the simulator's worker failed (`error: ...` either way).
  const raw = await page.waitForFunction(
    () => document.querySelector('[data-sim-bench]')?.dataset.simBench
      || (document.querySelector('[data-sim-error]') && `error: ${document.querySelector('[data-sim-error]').textContent}`),
    null, { timeout: 600000, polling: 500 });
  const report = await raw.jsonValue();
  if (report.startsWith('error')) throw new Error(report);
  const animated = await page.evaluate(async (ms) => {
    const now = () => Number(document.querySelector('[data-sim-now]').dataset.simNow);
    const received = () => Number(document.querySelector('.scrub')?.textContent.split('/')[1] || 0);
    const [simStart, eventsStart] = [now(), received()];
    let frames = 0;
    let worst = 0;
    let last = performance.now();
    const began = last;
    await new Promise((done) => {
      const tick = (t) => {
        frames += 1;
        worst = Math.max(worst, t - last);
        last = t;
        if (t - began < ms) requestAnimationFrame(tick); else done();
      };
      requestAnimationFrame(tick);
    });
    const elapsed = (performance.now() - began) / 1000;
    return {
      members: document.querySelectorAll('g[data-node]').length,
      fps: Math.round(frames / elapsed * 10) / 10,
      worst_frame_ms: Math.round(worst),
      speedup: Math.round((now() - simStart) / 1000 / elapsed * 10) / 10,
      events_per_s: Math.round((received() - eventsStart) / elapsed),
    };
  }, Number(seconds) * 1000);
  console.log(JSON.stringify({ simulator: report, animated }));
} finally {
  await browser.close();
}
