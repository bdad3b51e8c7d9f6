// The draw pad: a canvas people write a digit on with a mouse, a finger or a pen.

/** Stroke width in pad pixels: on a 280-pixel pad the digit's box becomes 20 pixels, so a
 * 20-pixel pen gives strokes about 2 MNIST pixels wide, like the originals. */
const STROKE_WIDTH = 20;

/**
 * Makes `canvas` a draw pad.
 * @param {HTMLCanvasElement} canvas
 * @param {() => void} onChange called while drawing and when a stroke ends
 * @returns {{ clear: () => void, imageData: () => ImageData, isBlank: () => boolean }}
 */
export function createDrawPad(canvas, onChange) {
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  let drawing = false;
  let blank = true;
  let last = null;

  function clear() {
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    blank = true;
  }

  /** Pointer position in canvas pixels (the canvas may be shown scaled). */
  function position(event) {
    const rect = canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - rect.left) * canvas.width) / rect.width,
      y: ((event.clientY - rect.top) * canvas.height) / rect.height,
    };
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
    blank = false;
  }

  canvas.addEventListener('pointerdown', (event) => {
    canvas.setPointerCapture(event.pointerId);
    drawing = true;
    last = position(event);
    strokeTo(last);
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
    imageData: () => ctx.getImageData(0, 0, canvas.width, canvas.height),
    isBlank: () => blank,
  };
}
