// Writes data/shifted.csv: the breast-cancer test split (../breast-cancer/data/test.csv) as a scanner
// recalibrated after training might deliver it: every area 25% larger and every texture 3 units higher.
// Deterministic (no randomness): `node make-shifted.mjs` from this folder gives the committed bytes.
import { readFileSync, writeFileSync } from 'node:fs'

const [header, ...rows] = readFileSync(new URL('../breast-cancer/data/test.csv', import.meta.url), 'utf8')
  .trim()
  .split('\n')
const names = header.split(',')
const shift = (name, v) => (/_area$/.test(name) ? v * 1.25 : /_texture$/.test(name) ? v + 3 : v)
const out = rows.map((line) =>
  line
    .split(',')
    .map((cell, j) => (names[j] === 'target' ? cell : String(Number(shift(names[j], Number(cell)).toPrecision(12)))))
    .join(','),
)
writeFileSync(new URL('./data/shifted.csv', import.meta.url), `${header}\n${out.join('\n')}\n`)
