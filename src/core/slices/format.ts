import type { Interval } from '../stats/types.js'

/** A metric value in a message: three decimals, enough to tell 0.870 from 0.875. */
export function num(x: number): string {
  return Number.isFinite(x) && Math.abs(x) < 1e6 ? x.toFixed(3) : String(Number(x.toPrecision(6)))
}

/** A difference, always signed: +0.012, −0.030. */
export function signedNum(x: number): string {
  if (x === 0) return num(0)
  return x < 0 ? `−${num(-x)}` : `+${num(x)}`
}

/** A bound as the user wrote it (0.9, not 0.900). */
export function bound(x: number): string {
  return Number(x.toPrecision(6)).toString()
}

/** `95% CI [0.780, 0.940]` */
export function ciText(interval: Interval, format: (x: number) => string = num): string {
  return `${Number((interval.confidence * 100).toPrecision(4))}% CI [${format(interval.low)}, ${format(interval.high)}]`
}

/** `slice "large tumours" (n = 54)` */
export function sliceLabel(name: string, rows: number): string {
  return `slice ${JSON.stringify(name)} (n = ${rows})`
}
