// Frame rate of the visualizer under load, in headless Chromium (a benchmark, not a test):
//   node fps.mjs <lab url> [seconds]
// Counts animation frames and events received over the window; prints one JSON line.
import { chromium } from 'playwright-core';

const [url, seconds = '10'] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 960 } });
  await page.goto(url);
  await page.waitForFunction(() => document.querySelectorAll('g[data-node]').length > 0, null, { timeout: 30000 });
  await page.waitForTimeout(2000);
  const result = await page.evaluate(async (ms) => {
    const received = () => Number(document.querySelector('.scrub')?.textContent.split('/')[1] || 0);
    const start = received();
    let frames = 0;
    let worst = 0;
    let last = performance.now();
    const began = last;
    await new Promise((done) => {
      const tick = (now) => {
        frames += 1;
        worst = Math.max(worst, now - last);
        last = now;
        if (now - began < ms) requestAnimationFrame(tick); else done();
      };
      requestAnimationFrame(tick);
    });
    const elapsed = (performance.now() - began) / 1000;
    return {
      members: document.querySelectorAll('g[data-node]').length,
      events_per_sec: Math.round((received() - start) / elapsed),
      fps: Math.round(frames / elapsed * 10) / 10,
      worst_frame_ms: Math.round(worst),
    };
  }, Number(seconds) * 1000);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
