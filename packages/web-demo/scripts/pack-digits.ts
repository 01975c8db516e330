/**
 * Packs a seeded sample of the `mnist` package's digits into `web/public/digits.bin` for the
 * demo (the package's JSON is 21 MB; this is 2.4 MB): a little-endian uint32 count, then
 * `count` label bytes, then `count * 784` pixel bytes (0-255). Run by `npm run web` and
 * `npm run web:build`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMnist } from '@eva-tfjs/experiments';

const COUNT = 3000;
const data = loadMnist({ seed: 0, normalize: false });
const set = data.train;
const count = Math.min(COUNT, set.count);
const bytes = new Uint8Array(4 + count + count * 784);
new DataView(bytes.buffer).setUint32(0, count, true);
bytes.set(set.labels.subarray(0, count), 4);
for (let i = 0; i < count * 784; i++) bytes[4 + count + i] = Math.round(set.images[i]! * 255);
const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'public', 'digits.bin');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, bytes);
console.log(`wrote ${count} digits to ${out}`);
