/** A class label as it appears in data or model output. `1` and `'1'` are different labels, as in numpy. */
export type Label = number | string

/** Text for a label in messages: strings quoted so `'1'` and `1` read differently. */
export function describeLabel(label: Label): string {
  return typeof label === 'string' ? JSON.stringify(label) : String(label)
}

function checkLabel(label: unknown, where: string): asserts label is Label {
  if (typeof label === 'string') return
  if (typeof label === 'number' && Number.isFinite(label)) return
  throw new Error(`${where} is ${String(label)}: a label must be a finite number or a string`)
}

/**
 * The distinct labels of all lists, in scikit-learn's `unique_labels` order: numbers ascending, strings by
 * UTF-16 code unit (numpy orders by code point; the two differ only for characters outside the BMP), and
 * each list encoded as positions in that order. Like scikit-learn ("Mix of label input types"), a mix of
 * numbers and strings is refused: the caller must decide whether `1` and `'1'` are the same class.
 * One map operation per value: this runs on every row of every data set.
 */
export function encodeSorted(lists: Record<string, readonly Label[]>): { labels: Label[]; codes: Int32Array[] } {
  const firstSeen = new Map<Label, number>()
  const kinds = new Map<string, string>()
  const codes = Object.entries(lists).map(([name, list]) => {
    const out = new Int32Array(list.length)
    for (let i = 0; i < list.length; i++) {
      const label = list[i]
      let code = firstSeen.get(label)
      if (code === undefined) {
        checkLabel(label, `${name}[${i}]`)
        code = firstSeen.size
        firstSeen.set(label, code)
        if (!kinds.has(typeof label)) kinds.set(typeof label, `${name}[${i}] = ${describeLabel(label)}`)
      }
      out[i] = code
    }
    return out
  })
  if (kinds.size > 1) {
    throw new Error(`labels mix numbers and strings (${[...kinds.values()].join(', ')}); convert them to one type`)
  }
  const labels = [...firstSeen.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const position = new Int32Array(labels.length)
  labels.forEach((label, rank) => (position[firstSeen.get(label) as number] = rank))
  for (const out of codes) for (let i = 0; i < out.length; i++) out[i] = position[out[i]]
  return { labels, codes }
}

/** The sorted distinct labels of all lists; see `encodeSorted`. */
export function sortedLabels(lists: Record<string, readonly Label[]>): Label[] {
  return encodeSorted(lists).labels
}

/** Position of each label in `labels`, for encoding. */
export function labelIndex(labels: readonly Label[]): Map<Label, number> {
  const index = new Map<Label, number>()
  labels.forEach((label, i) => index.set(label, i))
  return index
}

/** `values` as positions in `index`; a value missing from `index` is a programming error. */
export function encodeLabels(values: readonly Label[], index: Map<Label, number>, name: string): Int32Array {
  const codes = new Int32Array(values.length)
  for (let i = 0; i < values.length; i++) {
    const code = index.get(values[i])
    if (code === undefined) {
      const known = [...index.keys()].map(describeLabel).join(', ')
      throw new Error(`${name}[${i}] = ${describeLabel(values[i])} is not one of the classes [${known}]`)
    }
    codes[i] = code
  }
  return codes
}
