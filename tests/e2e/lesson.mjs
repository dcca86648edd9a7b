// End-to-end check of the lesson panel in Debian's headless Chromium, driven by
// tests/viz_e2e.rs against a running three-member lab:
//   node lesson.mjs <lab url> <artifact dir>
// Lesson 5 (leader election) done through the page: step 1's command run from the panel
// (the leader outlined; its goal held at once, so the student presses next); step 2's leader killed with the member controls; step 3's scenario
// restarts it and the panel's put reaches every member; step 4's campaign run from the panel
// ends the lesson. Each step must show its goal met (data-goal-met) and the panel must move
// on (data-step). Then the language switch (kept in the URL), presenter mode (which shows the
// instructor's buttons, hidden before), an unknown lesson in the URL, instructor mode on the
// lab (a killed member brought back by "run this step's scenario", then "reset to this
// lesson's start": every member up, step 1), and the same lesson in demo mode, where the
// reset is a fresh simulated cluster. Prints one line per stage; exits
// non-zero on the first failure; a screenshot of each stage is kept in the artifact dir.
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
  const shot = (name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  const wait = (fn, arg, timeout = 20000) => page.waitForFunction(fn, arg, { timeout, polling: 100 });
  const met = (step) => wait((step) => {
    const p = document.querySelector('section.lesson');
    return p.dataset.step === String(step) && p.dataset.goalMet === 'true';
  }, step, 30000);
  // The step's goal is seen met, then the panel moves to the next step by itself.
  const metThenNext = async (step) => {
    await met(step);
    await wait((step) => document.querySelector('section.lesson').dataset.step === String(step + 1),
      step, 10000);
  };

  stage = 'the panel opens lesson 5 from the URL';
  await page.goto(`${url}?lesson=5&lang=en`);
  await wait(() => {
    const p = document.querySelector('section.lesson');
    return p && p.dataset.lesson === '5' && p.dataset.step === '1' && p.dataset.lang === 'en'
      && document.querySelectorAll('g[data-node][data-role="leader"]').length === 1;
  });
  await wait(() => document.querySelector('.lesson h2')?.textContent
    === 'Leader election and failure');
  if (await page.$('[data-lesson-instructor]')) throw new Error('instructor buttons shown to a student');
  console.log('ok: lesson 5, step 1, in English, no instructor buttons');

  stage = 'step 1: run endpoint status from the panel; the leader is outlined';
  await page.click('section.lesson[data-step="1"] [data-lesson-run]', { timeout: 5000 });
  await wait(() => [...document.querySelectorAll('[data-terminal] .line')]
    .some((l) => l.textContent.includes('role leader')));
  await wait(() => document.querySelector('g.member.focus')?.dataset.role === 'leader');
  await shot('1-lesson-step1');
  // A leader was there from the start: a step met at once waits for next.
  await met(1);
  await page.click('section.lesson[data-step="1"] [data-lesson-next]');
  await wait(() => document.querySelector('section.lesson').dataset.step === '2');
  console.log('ok: step 1 met (a leader), next, step 2');

  stage = 'step 2: kill the leader with the member controls';
  const leader = await page.$eval('g[data-role="leader"]', (g) => g.dataset.node);
  await wait((name) => document.querySelector('[data-lesson-command]')?.textContent
    === `etcdlab lab kill ${name}`, leader);
  await page.dispatchEvent(`g[data-node="${leader}"]`, 'click');
  await page.click('.member-controls button[data-action="kill"]');
  await metThenNext(2);
  await shot('2-lesson-leader-killed');
  console.log(`ok: step 2 met (${leader} killed, a new leader), on to step 3`);

  stage = 'step 3: the scenario restarts the member; the put runs from the panel';
  await wait((name) => document.querySelector(`g[data-node="${name}"]`)?.dataset.role !== 'down',
    leader, 30000);
  await page.click('section.lesson[data-step="3"] [data-lesson-run]', { timeout: 10000 });
  await metThenNext(3);
  await shot('3-lesson-put');
  console.log(`ok: step 3 met (${leader} back, the key on every member), on to step 4`);

  stage = 'step 4: a campaign run from the panel ends the lesson';
  await page.click('section.lesson[data-step="4"] [data-lesson-run]', { timeout: 10000 });
  await wait(() => document.querySelector('section.lesson').dataset.goalMet === 'true'
    && document.querySelector('[data-lesson-status]').textContent.includes('Lesson complete'),
  undefined, 30000);
  await shot('4-lesson-complete');
  console.log('ok: step 4 met, lesson complete');

  stage = 'Korean, kept in the URL, readable in presenter mode';
  await page.click('[data-lesson-lang="ko"]');
  await wait(() => document.querySelector('section.lesson').dataset.lang === 'ko'
    && document.querySelector('.lesson h2').textContent === '리더 선출과 장애');
  const params = new URL(page.url()).searchParams;
  if (params.get('lang') !== 'ko' || params.get('lesson') !== '5' || params.get('step') !== '4') {
    throw new Error(`URL state: ${page.url()}`);
  }
  await page.click('button.presenter-toggle');
  await wait(() => parseFloat(getComputedStyle(document.querySelector('section.lesson')).fontSize) >= 20
    && document.querySelector('section.lesson').offsetHeight > 0);
  await wait(() => document.querySelector('[data-lesson-reset]') !== null);
  await shot('5-lesson-korean-presenter');
  console.log(`ok: Korean and presenter mode (instructor buttons); URL ${params}`);

  stage = 'an unknown lesson in the URL';
  await page.goto(`${url}?lesson=99&lang=en`);
  await wait(() => document.querySelector('[data-lesson-notice]')?.textContent
    .includes('no lesson "99"'));
  console.log('ok: lesson 99 is a clear notice');

  stage = 'instructor mode: run the step\'s scenario again, then reset the lesson';
  await page.goto(`${url}?lesson=5&step=3&lang=en&instructor`);
  await wait(() => document.querySelector('section.lesson')?.dataset.step === '3'
    && document.querySelectorAll('g[data-node][data-role="follower"]').length === 2);
  const follower = await page.$eval('g[data-role="follower"]', (g) => g.dataset.node);
  await page.dispatchEvent(`g[data-node="${follower}"]`, 'click');
  await page.click('.member-controls button[data-action="kill"]');
  await wait((name) => document.querySelector(`g[data-node="${name}"]`)?.dataset.role === 'down',
    follower);
  await page.click('[data-lesson-scenario]');
  await wait((name) => document.querySelector(`g[data-node="${name}"]`)?.dataset.role !== 'down',
    follower, 30000);
  console.log(`ok: the step's scenario (revive_all) restarted ${follower}`);
  await page.dispatchEvent(`g[data-node="${follower}"]`, 'click');
  await page.click('.member-controls button[data-action="kill"]');
  await wait((name) => document.querySelector(`g[data-node="${name}"]`)?.dataset.role === 'down',
    follower);
  await page.click('[data-lesson-reset]');
  await wait(() => document.querySelector('section.lesson').dataset.step === '1'
    && [...document.querySelectorAll('g[data-node]')].every((g) => g.dataset.role !== 'down')
    && [...document.querySelectorAll('[data-terminal] .line')]
      .some((l) => l.textContent.includes('resetting the lab')), undefined, 60000);
  await shot('6-lesson-instructor');
  console.log(`ok: reset to the lesson's start: ${follower} up again, step 1`);

  stage = 'the lesson in demo mode';
  await page.goto(`${url}?demo&lesson=5&lang=en&instructor`);
  await wait(() => document.querySelector('[data-demo]') !== null);
  await met(1);
  await wait(() => document.querySelector('option[value="3"]')?.textContent.includes('needs a lab')
    && !document.querySelector('option[value="5"]').textContent.includes('needs a lab'));
  await page.click('section.lesson[data-step="1"] [data-lesson-next]');
  await wait(() => document.querySelector('section.lesson').dataset.step === '2');
  await page.click('[data-lesson-reset]');
  await wait(() => document.querySelector('section.lesson').dataset.step === '1'
    && [...document.querySelectorAll('[data-terminal] .line')]
      .some((l) => l.textContent.includes('a fresh simulated cluster')));
  await met(1);
  await shot('7-lesson-demo');
  console.log('ok: demo mode checks step 1 on the simulated cluster, marks lessons that need a lab, resets');

  if (errors.length) throw new Error(errors.join('\n'));
} catch (e) {
  console.error(`FAILED at "${stage}": ${e.message}`);
  if (errors.length) console.error(errors.join('\n'));
  process.exitCode = 1;
} finally {
  await browser.close();
}
