#!/usr/bin/env node
/**
 * Builds the admin console's front end (src/console/ui) into dist/console-ui/:
 *  1. map data from world-atlas (Natural Earth, offline): Japan's outline and the world's
 *     countries, projected to SVG paths once here, so the browser only draws them;
 *  2. one JavaScript bundle and one stylesheet (esbuild, minified, content-hashed names);
 *  3. index.html referencing them (no inline script or style: CSP default-src 'self').
 * Prints the first-load JavaScript size, raw and gzipped.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { feature } from 'topojson-client';
import { geoPath, geoTransform, geoEquirectangular, geoCentroid } from 'd3-geo';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'console-ui');
const gen = path.join(root, 'dist', 'console-gen');

// ---- 1. map data --------------------------------------------------------------------
/** ISO 3166-1 numeric → alpha-2, for the countries a backend is likely to be in. */
const A2 = {
  392: 'JP', 840: 'US', 124: 'CA', 826: 'GB', 372: 'IE', 276: 'DE', 250: 'FR', 528: 'NL', 56: 'BE', 442: 'LU', 756: 'CH', 40: 'AT', 752: 'SE', 578: 'NO', 208: 'DK',
  246: 'FI', 380: 'IT', 724: 'ES', 620: 'PT', 616: 'PL', 203: 'CZ', 348: 'HU', 642: 'RO', 100: 'BG', 300: 'GR', 792: 'TR', 376: 'IL', 784: 'AE', 682: 'SA', 634: 'QA',
  356: 'IN', 702: 'SG', 458: 'MY', 764: 'TH', 704: 'VN', 360: 'ID', 608: 'PH', 410: 'KR', 408: 'KP', 156: 'CN', 158: 'TW', 344: 'HK', 496: 'MN', 36: 'AU', 554: 'NZ',
  76: 'BR', 32: 'AR', 152: 'CL', 484: 'MX', 170: 'CO', 604: 'PE', 710: 'ZA', 818: 'EG', 566: 'NG', 404: 'KE', 643: 'RU', 804: 'UA', 112: 'BY', 398: 'KZ', 586: 'PK',
  50: 'BD', 144: 'LK', 524: 'NP', 116: 'KH', 418: 'LA', 104: 'MM', 352: 'IS', 233: 'EE', 428: 'LV', 440: 'LT', 703: 'SK', 705: 'SI', 191: 'HR', 688: 'RS', 504: 'MA',
};
const round = (d) => d.replace(/(\d+\.\d)\d+/g, '$1');

/** Drops points closer than `eps` px to the previous one (the outline stays recognisable). */
function simplify(d, eps) {
  return d.replace(/M([^MZ]+)Z?/g, (ring) => {
    const closed = ring.endsWith('Z');
    const pts = ring.replace(/^M|Z$/g, '').split('L').map((p) => p.split(',').map(Number));
    const keep = [pts[0]];
    for (let i = 1; i < pts.length; i++) {
      const [x, y] = pts[i];
      const [px, py] = keep[keep.length - 1];
      if (Math.hypot(x - px, y - py) >= eps || i === pts.length - 1) keep.push([x, y]);
    }
    if (keep.length < 3) return '';
    return 'M' + keep.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join('L') + (closed ? 'Z' : '');
  });
}

// Japan: equirectangular with the x axis scaled by cos 36° (true shape at Japan's latitude).
const J = { lon0: 122.5, lat0: 46, s: 20, k: Math.cos((36 * Math.PI) / 180) };
const jp = (lon, lat) => [(lon - J.lon0) * J.s * J.k, (J.lat0 - lat) * J.s];
const w10 = require('world-atlas/countries-10m.json');
const japan = feature(w10, { type: 'GeometryCollection', geometries: w10.objects.countries.geometries.filter((g) => g.id === '392') });
const jpPath = simplify(
  geoPath(geoTransform({ point(x, y) { const [a, b] = jp(x, y); this.stream.point(a, b); } }))(japan),
  1.2,
);
// World: plain equirectangular, 2 px per degree, latitudes 84°N to 60°S.
const w110 = require('world-atlas/countries-110m.json');
const world = feature(w110, w110.objects.countries);
const proj = geoEquirectangular().scale(360 / Math.PI).translate([360, 168]);
const wp = geoPath(proj);
const countries = world.features
  .filter((f) => f.properties.name !== 'Antarctica')
  .map((f) => ({ a2: A2[Number(f.id)] ?? '', name: f.properties.name, d: round(wp(f) ?? '') }))
  .filter((c) => c.d);
const centroids = {};
for (const f of world.features) {
  const a2 = A2[Number(f.id)];
  if (a2) centroids[a2] = proj(geoCentroid(f)).map((v) => Math.round(v * 10) / 10);
}
// Small places the 110m data leaves out or merges.
centroids.SG ??= proj([103.8, 1.35]).map((v) => Math.round(v * 10) / 10);
centroids.HK ??= proj([114.17, 22.3]).map((v) => Math.round(v * 10) / 10);
centroids.LU ??= proj([6.13, 49.6]).map((v) => Math.round(v * 10) / 10);
centroids.JP = proj([138.5, 36.5]).map((v) => Math.round(v * 10) / 10);
const mapData = {
  japan: { w: Math.ceil((153.99 - J.lon0) * J.s * J.k), h: Math.ceil((J.lat0 - 24) * J.s), d: jpPath, proj: J },
  world: { w: 720, h: 300, countries, centroids },
};
fs.mkdirSync(gen, { recursive: true });
fs.writeFileSync(path.join(gen, 'map-data.json'), JSON.stringify(mapData));

// ---- 2. bundle ------------------------------------------------------------------------
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(path.join(out, 'assets'), { recursive: true });
const mapPlugin = {
  name: 'map-data',
  setup(b) {
    b.onResolve({ filter: /^sekisho-map-data$/ }, () => ({ path: path.join(gen, 'map-data.json') }));
  },
};
const result = await esbuild.build({
  entryPoints: { app: path.join(root, 'src/console/ui/main.ts') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  outdir: path.join(out, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  jsx: 'preserve',
  plugins: [mapPlugin],
  logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs).map((f) => path.basename(f));
const js = outputs.find((f) => f.endsWith('.js'));
const css = outputs.find((f) => f.endsWith('.css'));
fs.copyFileSync(path.join(root, 'src/console/ui/favicon.svg'), path.join(out, 'assets', 'favicon.svg'));

// ---- 3. page --------------------------------------------------------------------------
const html = `<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>関所 Sekisho コンソール</title>
<link rel="icon" href="/console/assets/favicon.svg" type="image/svg+xml">
${css ? `<link rel="stylesheet" href="/console/assets/${css}">` : ''}
<script type="module" src="/console/assets/${js}"></script>
</head>
<body>
<div id="app"><noscript>JavaScript を有効にしてください / Please enable JavaScript</noscript></div>
</body>
</html>
`;
fs.writeFileSync(path.join(out, 'index.html'), html);
const body = fs.readFileSync(path.join(out, 'assets', js));
const gz = zlib.gzipSync(body, { level: 9 }).length;
const cssBytes = css ? fs.statSync(path.join(out, 'assets', css)).size : 0;
console.log(`console: ${js} ${(body.length / 1024).toFixed(1)} KiB (gzip ${(gz / 1024).toFixed(1)} KiB), ${css ?? 'no css'} ${(cssBytes / 1024).toFixed(1)} KiB`);
