'use strict';
/* global document -- the functions given to page.waitForFunction run in the page */
// The dashboard in a real browser: Debian's chromium driven by playwright-core. From the page:
// start a run and see it finish, cancel another, retry a dead letter; then a screenshot into
// test-artifacts/ (git-ignored).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const { startFixture } = require('../helpers/ops-fixture');

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts');
const SCREENSHOT = path.join(ARTIFACTS, 'dashboard.png');

let fx;
let context;
let page;
let profile;
const pageErrors = [];
const foreignRequests = [];

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  fx = await startFixture({ workers: 1, cacheTtl: 1000 });
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-dashboard-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 1000 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (err) => pageErrors.push(err));
  page.on('console', (msg) => { if (msg.type() === 'error') pageErrors.push(new Error(msg.text())); });
  page.on('request', (req) => { if (!req.url().startsWith(fx.api.url)) foreignRequests.push(req.url()); });
  await page.goto(fx.api.url + '/');
  await page.locator('#api-text', { hasText: 'ok' }).waitFor();
});

after(async () => {
  await context?.close();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  fx?.client.close();
  await fx?.close();
});

const row = (key) => page.locator('#runs-body tr', { has: page.locator('td', { hasText: new RegExp(`^${key}$`) }) });

async function startFromPage(task, key, params) {
  await page.selectOption('#start-task', task);
  await page.fill('#start-params', params === undefined ? '' : JSON.stringify(params));
  await page.fill('#start-key', key);
  await page.click('#start-button');
  await row(key).first().waitFor();
}

test('the page shows health, scanner, queue and the status legend', async () => {
  assert.equal(await page.textContent('#queue-kind'), 'memory');
  await page.locator('#scanner-state', { hasText: /^active$/ }).waitFor();
  assert.equal(await page.textContent('#workers'), '1');
  await page.locator('#q-depth').filter({ hasText: /^\d+$/ }).waitFor();
  assert.match(await page.textContent('#legend'), /retry later/);
  assert.deepEqual(await page.locator('#start-task option').allTextContents(), ['echo', 'hold', 'reject']);
});

test('start a run from the page and see it finish', async () => {
  await startFromPage('echo', 'dash:echo', { n: 1 });
  const r = row('dash:echo');
  await r.locator('xpath=self::*[@data-status="0"]').waitFor({ timeout: 10_000 });
  assert.equal(await r.getAttribute('data-category'), 'success');
  assert.equal(await r.locator('.badge').textContent(), '0');
  assert.match(await r.textContent(), /success/);
  // The server has it as the page said.
  const runs = (await fx.client.get('/runs?task=echo&limit=1000')).json.runs;
  assert.ok(runs.some((x) => x.key === 'dash:echo' && x.status === 0 && x.result.n === 1));
});

test('bad params JSON is refused in the page, and nothing is started', async () => {
  const total = (await fx.client.get('/runs?limit=0', { 'Cache-Control': 'no-cache' })).json.total;
  await page.selectOption('#start-task', 'echo');
  await page.fill('#start-params', '{ nope');
  await page.fill('#start-key', 'dash:bad');
  await page.click('#start-button');
  await page.locator('#flash.error', { hasText: 'not valid JSON' }).waitFor();
  assert.equal((await fx.client.get('/runs?limit=0', { 'Cache-Control': 'no-cache' })).json.total, total);
  await page.fill('#start-params', '');
});

test('cancel a running run from the page', async () => {
  await startFromPage('hold', 'dash:hold');
  const r = row('dash:hold');
  await r.locator('xpath=self::*[@data-category="inProcess"]').waitFor({ timeout: 10_000 });
  await r.locator('button[data-action="cancel"]').click();
  await r.locator('xpath=self::*[@data-status="-125"]').waitFor({ timeout: 10_000 });
  assert.match(await r.textContent(), /ECANCELED/);
  assert.equal(await r.locator('button[data-action="cancel"]').count(), 0);
});

test('retry a dead letter from the page', async () => {
  await startFromPage('reject', 'dash:reject', { why: 'demo' });
  const dead = page.locator('#dead-body tr', { has: page.locator('td', { hasText: /^dash:reject$/ }) });
  await dead.first().waitFor({ timeout: 10_000 });
  assert.equal(await dead.first().locator('.badge').textContent(), '-900');
  await dead.first().locator('button[data-action="retry"]').click();
  await page.locator('#flash', { hasText: 'dead letter retried' }).waitFor();
  // The retry is a new run with the same key (it fails again, as this task always does).
  await page.waitForFunction(() => document.querySelectorAll('#runs-body tr[data-run-id]').length > 0);
  const runs = await fx.client.until('/runs?task=reject&limit=1000', (j) => j.runs.filter((x) => x.key === 'dash:reject').length === 2);
  assert.equal(runs.runs.filter((x) => x.key === 'dash:reject').length, 2);
});

test('category chips filter the runs table', async () => {
  await page.click('.chip[data-category="success"]');
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('#runs-body tr[data-run-id]')];
    return rows.length > 0 && rows.every((r) => r.dataset.category === 'success');
  });
  await page.click('.chip[data-category="all"]');
  await page.waitForFunction(() => new Set([...document.querySelectorAll('#runs-body tr[data-run-id]')].map((r) => r.dataset.category)).size > 1);
});

test('the page refreshes itself, loads nothing from elsewhere, has no script errors; screenshot', async () => {
  // A run started behind the page's back shows up by polling alone.
  await fx.client.post('/tasks/hold/runs', { key: 'dash:background' });
  await fx.client.post('/tasks/echo/runs', { key: 'dash:queued', params: { waiting: true } });
  await row('dash:background').waitFor({ timeout: 10_000 });
  await row('dash:queued').waitFor({ timeout: 10_000 });
  await page.locator('#q-depth', { hasText: /^[1-9]/ }).waitFor({ timeout: 10_000 });
  assert.deepEqual(foreignRequests, []);
  assert.deepEqual(pageErrors.map(String), []);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  assert.ok(fs.statSync(SCREENSHOT).size > 10_000);
  fx.release('dash:background');
});
