// A small SVG line chart of one series over time (the app page's CPU and memory).
const NS = 'http://www.w3.org/2000/svg';

function el(tag, attrs) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

/// Draws `points` ([{t, v}], t in ms) into `svg` over the last `spanMs`; `fmt` labels the top value.
export function draw(svg, points, spanMs, fmt, title) {
  const W = 400, H = 120, P = 4;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.replaceChildren();
  const now = Date.now();
  const pts = points.filter((p) => p.v !== null && p.v !== undefined && now - p.t <= spanMs);
  const max = Math.max(1e-9, ...pts.map((p) => p.v)) * 1.15;
  const x = (t) => P + ((t - (now - spanMs)) / spanMs) * (W - 2 * P);
  const y = (v) => H - P - (v / max) * (H - 2 * P - 14);
  svg.append(el('title', {}), el('text', { x: 6, y: 12 }));
  svg.firstChild.textContent = title;
  const last = pts[pts.length - 1];
  svg.children[1].textContent = last ? title + ': ' + fmt(last.v) + ' (max ' + fmt(max / 1.15) + ')' : title + ': no samples yet';
  if (pts.length < 2) return;
  let d = `M${x(pts[0].t)},${H - P}`;
  for (const p of pts) d += ` L${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
  d += ` L${x(last.t)},${H - P} Z`;
  svg.append(el('path', { d, class: 'area' }));
}
