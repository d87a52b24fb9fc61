// mulberry32: a small seeded PRNG, the same on every machine. The plain-JS scripts (the benchmark's data,
// the e2e fixtures) share this copy; examples/breast-cancer/pipeline.ts has the same generator in TypeScript.
export function mulberry32(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
