// "Look inside": what each layer of LeNet-5 makes of the digit on the draw pad (the package's
// `activations()`), the convolution filters (`filters()`), and which model they come from
// (`modelInUse()`). Feature maps are small grey images, bright where a map responds, on one
// scale per layer; fully connected layers are bars, one per unit; filters are grey around a
// middle grey for 0, lighter for positive weights and darker for negative ones. Hovering over,
// focusing or tapping one says its layer, channel and value range.

/** The scale each map is shown at (CSS pixels per value). */
const MAP_SCALE = { conv1: 2, pool1: 3, conv2: 3, pool2: 5 };
const FILTER_SCALE = 5;
/** Height of a bar chart of units, in canvas pixels. */
const BARS_HEIGHT = 40;

/** What a layer is, for people. */
const ABOUT = {
  conv1: 'first convolution, after ReLU',
  pool1: 'max pooling 2x2',
  conv2: 'second convolution, after ReLU',
  pool2: 'max pooling 2x2',
  fc1: 'fully connected, after ReLU',
  fc2: 'fully connected, after ReLU',
  logits: 'class scores',
  probabilities: 'softmax of the scores',
};

const format = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2));
const range = (values) => {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
};

/**
 * The panel inside `root` (a <details>): `layers` and `filters` are its containers, `model` and
 * `detail` its lines of text.
 */
export function createInside({ root, model, layers, filters, detail }) {
  /** The rows built so far, by layer and shape: a refresh paints them again, so a focused map
   * stays focused. */
  const rows = new Map();

  function say(text) {
    detail.textContent = text;
  }

  /** A canvas that says its label when hovered over, focused or tapped. */
  function canvasFor(className, layer) {
    const canvas = document.createElement('canvas');
    canvas.className = className;
    canvas.dataset.layer = layer;
    canvas.tabIndex = 0;
    canvas.setAttribute('role', 'img');
    for (const type of ['pointerenter', 'focus', 'click']) canvas.addEventListener(type, () => say(canvas.title));
    return canvas;
  }

  function label(canvas, text) {
    canvas.title = text;
    canvas.setAttribute('aria-label', text);
    if (document.activeElement === canvas) say(text);
  }

  /** Puts `values` in `image` as grey levels `shade(v)`, a square of `side` at `x`. */
  function paint(image, values, side, x, shade) {
    values.forEach((v, i) => {
      const grey = shade(v);
      image.data.set([grey, grey, grey, 255], (Math.floor(i / side) * image.width + x + (i % side)) * 4);
    });
  }

  /** The row (a figure and its canvases) of `view`'s layer, built by `build(view)` under
   * `caption` the first time. */
  function rowOf(kind, view, caption, build) {
    const key = `${kind}:${view.layer}:${view.shape}`;
    if (!rows.has(key)) {
      const figure = document.createElement('figure');
      figure.className = 'layer';
      figure.dataset.layer = view.layer;
      const text = document.createElement('figcaption');
      text.textContent = caption;
      const body = document.createElement('div');
      body.className = 'maps';
      const canvases = build(view);
      body.append(...canvases);
      figure.append(text, body);
      rows.set(key, { figure, canvases });
    }
    return rows.get(key);
  }

  /** Feature maps [maps, side, side], on one scale for the layer. */
  function showMaps(view) {
    const { layer, shape, values } = view;
    const [count, side] = shape;
    const row = rowOf('maps', view, `${layer}: ${count} maps of ${side}x${side} (${ABOUT[layer]})`, () =>
      Array.from({ length: count }, () => {
        const canvas = canvasFor('map', layer);
        canvas.width = canvas.height = side;
        canvas.style.width = canvas.style.height = `${side * MAP_SCALE[layer]}px`;
        return canvas;
      }),
    );
    const [, max] = range(values);
    const shade = (v) => Math.round((255 * Math.max(0, v)) / (max || 1));
    row.canvases.forEach((canvas, channel) => {
      const own = values.subarray(channel * side * side, (channel + 1) * side * side);
      const ctx = canvas.getContext('2d');
      const image = ctx.createImageData(side, side);
      paint(image, own, side, 0, shade);
      ctx.putImageData(image, 0, 0);
      const [lo, hi] = range(own);
      label(canvas, `${layer}, map ${channel + 1} of ${count}: values ${format(lo)} to ${format(hi)}`);
    });
    return row.figure;
  }

  /** Units as bars, up from 0 (down for negative scores); the pointer says the unit under it. */
  function showBars(view) {
    const { layer, shape } = view;
    const [units] = shape;
    const digits = units === 10;
    const row = rowOf('bars', view, `${layer}: ${units} ${digits ? 'digits' : 'units'} (${ABOUT[layer]})`, () => {
      const canvas = canvasFor('units', layer);
      canvas.width = units * 3;
      canvas.height = BARS_HEIGHT;
      canvas.addEventListener('pointermove', (event) => {
        const rect = canvas.getBoundingClientRect();
        const unit = Math.min(units - 1, Math.floor(((event.clientX - rect.left) / rect.width) * units));
        const value = canvas.values[unit];
        say(digits ? `${layer}, digit ${unit}: ${format(value)}` : `${layer}, unit ${unit + 1} of ${units}: ${format(value)}`);
      });
      canvas.addEventListener('pointerleave', () => say(canvas.title));
      return [canvas];
    });
    const [canvas] = row.canvases;
    const { values } = view;
    canvas.values = values;
    const [lo, hi] = range(values);
    const top = Math.max(hi, 0);
    const span = top - Math.min(lo, 0) || 1;
    const zero = Math.round((BARS_HEIGHT * top) / span);
    const ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = getComputedStyle(root).getPropertyValue('--accent').trim() || '#0b5cad';
    values.forEach((v, i) => {
      const h = Math.max(1, Math.round((BARS_HEIGHT * Math.abs(v)) / span));
      if (v !== 0) ctx.fillRect(i * 3, v > 0 ? zero - h : zero, 2, h);
    });
    label(canvas, `${layer}, ${units} ${digits ? 'digits' : 'units'}: values ${format(lo)} to ${format(hi)}`);
    return row.figure;
  }

  /** Filters [outputs, inputs, 5, 5]: a canvas per output map, its input kernels side by side,
   * on one scale for the bank with 0 as middle grey. */
  function showBank(view) {
    const { layer, shape, values } = view;
    const [outputs, inputs, side] = shape;
    const width = inputs * (side + 1) - 1;
    const caption = `${layer} filters: ${outputs} of ${inputs === 1 ? '1 kernel' : `${inputs} kernels`} ${side}x${side} (light: positive weights, dark: negative)`;
    const row = rowOf('filters', view, caption, () =>
      Array.from({ length: outputs }, () => {
        const canvas = canvasFor('filter', layer);
        canvas.width = width;
        canvas.height = side;
        canvas.style.width = `${width * FILTER_SCALE}px`;
        canvas.style.height = `${side * FILTER_SCALE}px`;
        return canvas;
      }),
    );
    const [lo, hi] = range(values);
    const reach = Math.max(-lo, hi) || 1;
    const shade = (v) => Math.round(128 + (127 * v) / reach);
    const kernel = side * side;
    row.canvases.forEach((canvas, out) => {
      const own = values.subarray(out * inputs * kernel, (out + 1) * inputs * kernel);
      const ctx = canvas.getContext('2d');
      const image = ctx.createImageData(width, side);
      image.data.fill(255);
      for (let input = 0; input < inputs; input++) {
        paint(image, own.subarray(input * kernel, (input + 1) * kernel), side, input * (side + 1), shade);
      }
      ctx.putImageData(image, 0, 0);
      const [min, max] = range(own);
      const of = inputs === 1 ? 'one 5x5 kernel' : `${inputs} kernels of 5x5, one per map of the layer before`;
      label(canvas, `${layer} filter ${out + 1} of ${outputs} (${of}): weights ${format(min)} to ${format(max)}`);
    });
    return row.figure;
  }

  /** Puts `figures` in `container`, unless they are there already. */
  function place(container, figures) {
    const there = [...container.children];
    if (there.length !== figures.length || there.some((f, i) => f !== figures[i])) container.replaceChildren(...figures);
  }

  return {
    /** True while the panel is open (closed, it is not refreshed). */
    isOpen: () => root.open,

    /** Shows `look`: the model in use, its filters, and its layers for the drawing (none for a
     * blank pad). */
    show(look) {
      model.textContent = `Showing ${look.model.description}.`;
      model.dataset.source = look.model.source;
      if (look.layers) {
        place(layers, look.layers.map((view) => (view.shape.length === 3 ? showMaps(view) : showBars(view))));
      } else {
        const note = document.createElement('p');
        note.className = 'note';
        note.textContent = 'Draw a digit to see what each layer makes of it.';
        layers.replaceChildren(note);
      }
      place(filters, look.filters.map(showBank));
    },
  };
}
