import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';

export interface P2PPoint {
  clients: number;
  settledPerSecond: number;
  p99Ms: number;
}

const FONT = 'DejaVu Sans';
const FONT_DIRS = ['/usr/share/fonts', '/usr/local/share/fonts', path.join(homedir(), '.fonts'), path.join(homedir(), '.local/share/fonts')];

function hasFontFiles(dir: string, depth = 3): boolean {
  if (!existsSync(dir) || depth < 0) return false;
  return readdirSync(dir, { withFileTypes: true }).some((e) =>
    e.isDirectory() ? hasFontFiles(path.join(dir, e.name), depth - 1) : /\.(ttf|otf|ttc)$/i.test(e.name),
  );
}

/** One panel: a line through the points, each labelled with its value; `floor` adds a dashed line at that value. */
function panel(field: keyof P2PPoint, title: string, format: string, floor?: { value: number; label: string }) {
  const x = { field: 'clients', type: 'ordinal' as const, title: 'clients (closed loop)', axis: { labelAngle: 0 } };
  const y = { field, type: 'quantitative' as const, title, scale: { zero: true } };
  const floorLayers = floor
    ? [
        { data: { values: [{ [field]: floor.value }] }, mark: { type: 'rule' as const, strokeDash: [6, 4], color: 'firebrick' }, encoding: { y } },
        {
          data: { values: [{ [field]: floor.value, label: floor.label }] },
          mark: { type: 'text' as const, align: 'left' as const, dx: 4, dy: -8, x: 0, color: 'firebrick' },
          encoding: { y, text: { field: 'label', type: 'nominal' as const } },
        },
      ]
    : [];
  return {
    width: 300,
    height: 220,
    layer: [
      { mark: { type: 'line' as const, point: true }, encoding: { x, y } },
      { mark: { type: 'text' as const, dy: -10 }, encoding: { x, y, text: { field, type: 'quantitative' as const, format } } },
      ...floorLayers,
    ],
  };
}

/**
 * Throughput and p99 of the whole transfer against clients, the floor's rate of the same run drawn
 * across the throughput panel, as a PNG: a Vega-Lite spec rendered to
 * SVG by Vega (no canvas needed for SVG) and rasterized by resvg. Text is drawn with the system's
 * fonts; answers a warning when the machine has none (the PNG then has no text).
 */
export async function plotP2P(file: string, points: P2PPoint[], subtitle: string, floorRate?: number): Promise<string | undefined> {
  const vegaLite = await import('vega-lite');
  const vega = await import('vega');
  const { Resvg } = await import('@resvg/resvg-js');
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'P2P settlement with device signatures (initiate + confirm)', subtitle },
    data: { values: points.map((p) => ({ ...p })) },
    hconcat: [
      panel('settledPerSecond', 'settled transfers per second', '.1f', floorRate === undefined ? undefined : { value: floorRate, label: `floor: ${floorRate.toFixed(1)} empty workflows/s` }),
      panel('p99Ms', 'p99 of the whole transfer (ms)', '.0f'),
    ],
    config: { font: FONT, background: 'white', view: { stroke: null } },
  };
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, background: 'white', font: { loadSystemFonts: true, defaultFontFamily: FONT } })
    .render()
    .asPng();
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, png);
  return FONT_DIRS.some((dir) => hasFontFiles(dir)) ? undefined : 'no font files found in the system font folders: the plot has no text (apt-get install fonts-dejavu-core)';
}
