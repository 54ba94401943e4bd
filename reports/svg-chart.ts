// A grouped bar chart as inline SVG, written here rather than pulled from a charting library so the
// HTML report stays one self-contained file with no script and no external URL. Each bar is a median
// with a whisker from min to max (no xmlns: inline SVG in HTML needs none, and the file carries no URL); a series with no value (an unavailable configuration) is drawn as
// an outlined "n/a" slot, so missing numbers are visible rather than silently absent.

export interface BarValue {
  median: number;
  min: number;
  max: number;
}

export interface BarChart {
  title: string;
  unit: string;
  /** Groups along the x axis, e.g. "1 stream, same node". */
  categories: string[];
  series: Array<{ name: string; color: string; values: Array<BarValue | undefined> }>;
  format: (v: number) => string;
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A "nice" upper bound for the axis: 1, 2, 2.5 or 5 times a power of ten. */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export const SERIES_COLORS = ['#6b7280', '#9ca3af', '#a16207', '#2563eb', '#059669', '#7c3aed', '#db2777'];

/** Room for one legend entry: the swatch and a configuration name like "reference-bridge (unavailable)". */
const LEGEND_ENTRY_W = 170;

export function renderBarChart(c: BarChart): string {
  const barW = 18;
  const gap = 4;
  const groupPad = 26;
  const left = 64;
  const top = 34;
  const plotH = 200;
  const groupW = c.series.length * (barW + gap) - gap + groupPad;
  const width = Math.max(420, left + c.categories.length * groupW + 20);
  const legendY = top + plotH + 44;
  // As many legend entries per row as fit the chart's width, so none is clipped on narrow charts.
  const legendCols = Math.max(1, Math.floor((width - left) / LEGEND_ENTRY_W));
  const height = legendY + 18 * Math.ceil(c.series.length / legendCols) + 8;
  const all = c.series.flatMap((s) => s.values.filter((v): v is BarValue => !!v).map((v) => Math.max(v.max, v.median)));
  const yMax = niceMax(Math.max(0, ...all));
  const y = (v: number) => top + plotH - (Math.max(0, v) / yMax) * plotH;
  const parts: string[] = [];
  parts.push(`<svg role="img" aria-label="${escapeXml(c.title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="11">`);
  parts.push(`<text x="${left}" y="18" font-size="13" font-weight="600">${escapeXml(c.title)} <tspan font-weight="400" fill="#555">(${escapeXml(c.unit)})</tspan></text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    const yy = y(v);
    parts.push(`<line x1="${left}" x2="${width - 10}" y1="${yy}" y2="${yy}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${left - 6}" y="${yy + 4}" text-anchor="end" fill="#555">${escapeXml(c.format(v))}</text>`);
  }
  c.categories.forEach((cat, gi) => {
    const gx = left + gi * groupW + groupPad / 2;
    c.series.forEach((s, si) => {
      const x = gx + si * (barW + gap);
      const v = s.values[gi];
      if (!v) {
        parts.push(`<rect x="${x}" y="${top + plotH - 40}" width="${barW}" height="40" fill="none" stroke="${s.color}" stroke-dasharray="3 2"><title>${escapeXml(`${s.name}: unavailable`)}</title></rect>`);
        parts.push(`<text x="${x + barW / 2}" y="${top + plotH - 44}" text-anchor="middle" fill="#999" font-size="9">n/a</text>`);
        return;
      }
      const tip = `${s.name}, ${cat}: median ${c.format(v.median)} (min ${c.format(v.min)}, max ${c.format(v.max)}) ${c.unit}`;
      parts.push(`<rect x="${x}" y="${y(v.median)}" width="${barW}" height="${top + plotH - y(v.median)}" fill="${s.color}"><title>${escapeXml(tip)}</title></rect>`);
      const cx = x + barW / 2;
      parts.push(`<path d="M${cx} ${y(v.min)}V${y(v.max)}M${cx - 4} ${y(v.min)}h8M${cx - 4} ${y(v.max)}h8" stroke="#111" stroke-width="1.2"/>`);
    });
    const mid = gx + (c.series.length * (barW + gap) - gap) / 2;
    parts.push(`<text x="${mid}" y="${top + plotH + 16}" text-anchor="middle">${escapeXml(cat)}</text>`);
  });
  parts.push(`<line x1="${left}" x2="${width - 10}" y1="${top + plotH}" y2="${top + plotH}" stroke="#111"/>`);
  c.series.forEach((s, i) => {
    const lx = left + (i % legendCols) * LEGEND_ENTRY_W;
    const ly = legendY + Math.floor(i / legendCols) * 18;
    parts.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${s.color}"/><text x="${lx + 14}" y="${ly}">${escapeXml(s.name)}${s.values.every((v) => !v) ? ' (unavailable)' : ''}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}
