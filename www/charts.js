// The training charts, drawn with uPlot (vendored into www/vendor/ by `make build`): the loss per
// step, and the accuracy per step with the test accuracy after each epoch.

import uPlot from './vendor/uPlot.esm.js';

const HEIGHT = 220;
const BLUE = '#0b5cad';
const ORANGE = '#b45309';

function chart(element, series, yLabel, range) {
  const plot = new uPlot(
    {
      width: element.clientWidth || 400,
      height: HEIGHT,
      scales: { x: { time: false }, y: range ? { range } : {} },
      axes: [{ label: 'step' }, { label: yLabel, size: 55 }],
      series: [{ label: 'step' }, ...series],
      legend: { live: false },
    },
    [[], ...series.map(() => [])],
    element,
  );
  // Resized in the next frame: resizing inside the observer's callback would trigger it again.
  let width = element.clientWidth;
  new ResizeObserver(() => {
    if (element.clientWidth === width) return;
    width = element.clientWidth;
    requestAnimationFrame(() => plot.setSize({ width, height: HEIGHT }));
  }).observe(element);
  return plot;
}

/**
 * The two charts, in `lossElement` and `accuracyElement`.
 * @returns {{ show: (history: {steps: number[], loss: number[], accuracy: number[],
 *   epochs: {step: number, accuracy: number}[]}) => void }}
 */
export function createCharts(lossElement, accuracyElement) {
  const loss = chart(lossElement, [{ label: 'loss', stroke: BLUE, width: 2 }], 'loss');
  const accuracy = chart(
    accuracyElement,
    [
      { label: 'training %', stroke: BLUE, width: 2 },
      { label: 'test %', stroke: ORANGE, width: 2, spanGaps: true, points: { show: true, size: 8 } },
    ],
    '%',
    (_, min) => [Math.min(Math.floor(min ?? 0), 90), 100],
  );
  return {
    /** Draws a run's history (what the worker reports and saves). */
    show(history) {
      const testAt = new Map(history.epochs.map((e) => [e.step, e.accuracy * 100]));
      loss.setData([history.steps, history.loss]);
      accuracy.setData([
        history.steps,
        history.accuracy.map((a) => a * 100),
        history.steps.map((step) => testAt.get(step) ?? null),
      ]);
      // For people using assistive technology, and for the tests.
      lossElement.dataset.points = String(history.steps.length);
      accuracyElement.dataset.epochs = String(history.epochs.length);
      lossElement.setAttribute('aria-label', `Loss chart: ${history.steps.length} points`);
    },
  };
}
