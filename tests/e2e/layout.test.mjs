// The page's static layout, which needs neither the wasm package nor MNIST: an element with the
// hidden attribute stays hidden whatever its class says, and on a wide screen the draw pad sits
// beside the training panel (in view while training runs), on a narrow one below it.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ARTIFACTS, launchBrowser, openPage, startServer } from './browser.mjs';

const TRAIN = 'section[aria-labelledby="train-title"]';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.close();
});

test('the misclassified-digit detail stays hidden until a digit is chosen', async () => {
  const { page } = await openPage(browser, server.url);
  try {
    await page.evaluate(() => {
      document.querySelector('#results-body').hidden = false;
    });
    assert.equal(await page.getAttribute('#mistake-detail', 'hidden'), '');
    assert.equal(await page.locator('#mistake-detail').isVisible(), false);
    // Other elements the page hides with the attribute stay hidden too.
    for (const id of ['notice', 'saved-run', 'retry-start', 'error']) {
      await page.evaluate((id) => {
        document.getElementById(id).hidden = true;
      }, id);
      assert.equal(await page.locator(`#${id}`).isVisible(), false, `#${id} is hidden`);
    }
    await page.evaluate(() => {
      document.querySelector('#mistake-detail').hidden = false;
    });
    assert.equal(await page.locator('#mistake-detail').isVisible(), true);
  } finally {
    await page.close();
  }
});

test('on a wide screen the draw pad is beside the training panel, on a narrow one below it', async () => {
  const { page } = await openPage(browser, server.url);
  try {
    const boxes = async () => ({ pad: await page.locator('#pad').boundingBox(), train: await page.locator(TRAIN).boundingBox() });

    // openPage's viewport, 1100 x 1400: two columns, the pad right of training, in view.
    assert.deepEqual(page.viewportSize(), { width: 1100, height: 1400 });
    let { pad, train } = await boxes();
    await page.screenshot({ path: `${ARTIFACTS}/layout-wide.png`, fullPage: true });
    assert.ok(pad.x >= train.x + train.width, `the pad (x ${pad.x}) is right of training (${train.x} + ${train.width})`);
    assert.ok(pad.y < train.y + train.height && pad.y + pad.height > train.y, `the pad (y ${pad.y}-${pad.y + pad.height}) is beside training (y ${train.y}-${train.y + train.height})`);
    assert.ok(pad.y >= 0 && pad.y + pad.height <= 1400, 'the pad is in view without scrolling');
    // It stays in view while the page scrolls down to the results.
    await page.evaluate(() => document.querySelector('#results').scrollIntoView());
    const scrolled = await page.locator('#pad').boundingBox();
    assert.ok(scrolled.y >= 0 && scrolled.y + scrolled.height <= 1400, `the pad is still in view after scrolling (y ${scrolled.y})`);
    // Nothing sticks out sideways.
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)) <= 0);

    // Narrow: one column in document order, the pad below training.
    await page.setViewportSize({ width: 400, height: 900 });
    await page.evaluate(() => window.scrollTo(0, 0));
    ({ pad, train } = await boxes());
    await page.screenshot({ path: `${ARTIFACTS}/layout-narrow.png`, fullPage: true });
    assert.ok(pad.y >= train.y + train.height, `the pad (y ${pad.y}) is below training (ends at ${train.y + train.height})`);
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)) <= 0);
  } finally {
    await page.close();
  }
});
