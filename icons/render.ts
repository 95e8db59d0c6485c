import { Resvg } from '@resvg/resvg-js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Render icons/icon.svg to the 64×64 PNG Cognigy shows for the extension. Usage: tsx icons/render.ts <out.png> */
const SIZE = 64;
const out = process.argv[2];
if (!out) {
  console.error('usage: tsx icons/render.ts <out.png>');
  process.exit(2);
}
const svg = readFileSync(join(__dirname, 'icon.svg'), 'utf8');
const png = new Resvg(svg, { fitTo: { mode: 'width', value: SIZE }, background: 'rgba(0,0,0,0)' }).render();
if (png.width !== SIZE || png.height !== SIZE) throw new Error(`rendered ${png.width}×${png.height}, expected ${SIZE}×${SIZE}`);
writeFileSync(out, png.asPng());
