// The draw pad: a canvas people write a digit on with a mouse, a finger or a pen.

/** Stroke width in pad pixels: a digit written across most of the 280-pixel pad is scaled to
 * 20 pixels, so a 24-pixel pen gives strokes 2-3 MNIST pixels wide, like the originals. */
const STROKE_WIDTH = 24;
/** Strokes that undo can take back. */
const UNDO_STEPS = 50;

/**
 * Makes `canvas` a draw pad.
 * @param {HTMLCanvasElement} canvas
 * @param {() => void} onChange called while drawing and when a stroke ends
 * @returns {{ clear: () => void, undo: () => boolean, imageData: () => ImageData,
 *   isBlank: () => boolean }}
 */
export function createDrawPad(canvas, onChange) {
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  let drawing = false;
  let blank = true;
  let last = null;
  /** The pad before each stroke, for undo (the last UNDO_STEPS strokes). */
  const history = [];

  function clear() {
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    blank = true;
    history.length = 0;
  }

  /** Takes back the last stroke; false when there is none. */
  function undo() {
    const before = history.pop();
    if (!before) return false;
    ctx.putImageData(before.pixels, 0, 0);
    blank = before.blank;
    return true;
  }

  /** Pointer position in canvas pixels (the canvas may be shown scaled). */
  function position(event) {
    const rect = canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - rect.left) * canvas.width) / rect.width,
      y: ((event.clientY - rect.top) * canvas.height) / rect.height,
    };
  }

  /** Draws a round dot: where a stroke starts, so a tap leaves ink too. */
  function dot(point) {
    ctx.fillStyle = '#000';
    ctx.beginPath();
    ctx.arc(point.x, point.y, STROKE_WIDTH / 2, 0, 2 * Math.PI);
    ctx.fill();
    last = point;
    blank = false;
  }

  function strokeTo(point) {
    ctx.strokeStyle = '#000';
    ctx.lineWidth = STROKE_WIDTH;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(point.x, point.y);
    ctx.stroke();
    last = point;
  }

  canvas.addEventListener('pointerdown', (event) => {
    canvas.setPointerCapture(event.pointerId);
    history.push({ pixels: ctx.getImageData(0, 0, canvas.width, canvas.height), blank });
    if (history.length > UNDO_STEPS) history.shift();
    drawing = true;
    dot(position(event));
    onChange();
  });
  canvas.addEventListener('pointermove', (event) => {
    if (!drawing) return;
    for (const e of event.getCoalescedEvents?.() ?? [event]) strokeTo(position(e));
    onChange();
  });
  for (const type of ['pointerup', 'pointercancel']) {
    canvas.addEventListener(type, () => {
      if (drawing) onChange();
      drawing = false;
    });
  }

  clear();
  return {
    clear,
    undo,
    imageData: () => ctx.getImageData(0, 0, canvas.width, canvas.height),
    isBlank: () => blank,
  };
}
