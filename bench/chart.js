'use strict';
// A small log-log SVG chart: time against document size, transformDomain and xmldom's parse on the same axes.

function renderChart(rows) {
  const W = 640, H = 400, L = 70, R = 20, T = 30, B = 50;
  const xs = rows.map((r) => r.kb);
  const ys = rows.flatMap((r) => [r.parseMs, r.transformMs]);
  const [x0, x1] = [Math.log10(Math.min(...xs)), Math.log10(Math.max(...xs))];
  const [y0, y1] = [Math.floor(Math.log10(Math.min(...ys))), Math.ceil(Math.log10(Math.max(...ys)))];
  const px = (kb) => L + ((Math.log10(kb) - x0) / (x1 - x0)) * (W - L - R);
  const py = (ms) => H - B - ((Math.log10(ms) - y0) / (y1 - y0)) * (H - T - B);
  const line = (key, colour) =>
    `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${rows.map((r) => `${px(r.kb).toFixed(1)},${py(r[key]).toFixed(1)}`).join(' ')}"/>` +
    rows.map((r) => `<circle cx="${px(r.kb).toFixed(1)}" cy="${py(r[key]).toFixed(1)}" r="3" fill="${colour}"/>`).join('');
  const yTicks = [];
  for (let e = y0; e <= y1; e++) {
    const y = py(10 ** e);
    yTicks.push(`<line x1="${L}" x2="${W - R}" y1="${y}" y2="${y}" stroke="#ddd"/><text x="${L - 8}" y="${y + 4}" text-anchor="end">${10 ** e >= 1 ? 10 ** e : (10 ** e).toFixed(-e)} ms</text>`);
  }
  const xTicks = rows.map((r) => `<text x="${px(r.kb).toFixed(1)}" y="${H - B + 18}" text-anchor="middle">${r.kb >= 1024 ? `${(r.kb / 1024).toFixed(0)} MB` : `${r.kb.toFixed(0)} KB`}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">transformDomain vs xmldom parse (log-log; parallel lines = same growth)</text>
${yTicks.join('\n')}
${xTicks.join('\n')}
<text x="${W / 2}" y="${H - 10}" text-anchor="middle">document size</text>
${line('parseMs', '#888')}
${line('transformMs', '#d62728')}
<rect x="${L + 10}" y="${T + 5}" width="12" height="3" fill="#d62728"/><text x="${L + 28}" y="${T + 10}">transformDomain (64-GPU plan)</text>
<rect x="${L + 10}" y="${T + 23}" width="12" height="3" fill="#888"/><text x="${L + 28}" y="${T + 28}">new DOMParser().parseFromString</text>
</svg>
`;
}

module.exports = { renderChart };
