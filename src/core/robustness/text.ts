import type { Rng } from './types.js'

/*
 * Text perturbations: one string in, one string out, every random choice drawn from `rng`.
 * Strings are walked by code point (`u` regular expressions, `Array.from`), so a perturbation never splits
 * a surrogate pair.
 */

// Module-level binding: inside a vm context (jest) each global `Math` lookup in a hot loop is slow.
const { floor } = Math

const PUNCTUATION = /\p{P}/u
const COMBINING_MARK = /\p{M}/gu
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz'

/** Words shorter than this are left alone by typos: a typo in "is" or "the" says little about robustness. */
export const TYPO_MIN_WORD = 4
const TYPO_WORD = new RegExp(`\\p{L}{${TYPO_MIN_WORD},}`, 'gu')

/**
 * Keyboard-style typos in words (runs of letters) of at least 4 letters: each letter, with probability
 * `rate`, gets one of four edits chosen uniformly: swapped with the next letter (the pair is then
 * done), deleted (never the word's last remaining letter, so words stay non-empty), followed by an
 * inserted letter, or substituted by a different letter. New letters are a–z in the case of the one
 * they replace or follow. Other characters are never touched.
 */
export function typo(text: string, rate: number, rng: Rng): string {
  return text.replace(TYPO_WORD, (word) => typoWord(Array.from(word), rate, rng))
}

function typoWord(word: string[], rate: number, rng: Rng): string {
  const out: string[] = []
  for (let i = 0; i < word.length; i++) {
    const c = word[i]
    if (rng() >= rate) {
      out.push(c)
      continue
    }
    const edit = floor(rng() * 4)
    if (edit === 0 && i + 1 < word.length && word[i + 1] !== c) {
      out.push(word[i + 1], c)
      i++
    } else if (edit === 1 && out.length + (word.length - i - 1) > 0) {
      // deleted: nothing pushed
    } else if (edit === 2) {
      out.push(c, randomLetter(c, rng))
    } else {
      // Substitution, also the fallback for a swap with nothing (or the same letter) next and for a deletion
      // that would empty the word: every drawn edit changes the word.
      out.push(otherLetter(c, rng))
    }
  }
  return out.join('')
}

function randomLetter(like: string, rng: Rng): string {
  const letter = ALPHABET[floor(rng() * ALPHABET.length)]
  return isUpper(like) ? letter.toUpperCase() : letter
}

/** A letter a–z other than `c` (compared case-insensitively), in `c`'s case. */
function otherLetter(c: string, rng: Rng): string {
  const lower = c.toLowerCase()
  const choices = ALPHABET.includes(lower) ? ALPHABET.replace(lower, '') : ALPHABET
  const letter = choices[floor(rng() * choices.length)]
  return isUpper(c) ? letter.toUpperCase() : letter
}

function isUpper(c: string): boolean {
  return c !== c.toLowerCase() && c === c.toUpperCase()
}

export type CaseMode = 'upper' | 'lower' | 'title'
export const CASE_MODES: readonly CaseMode[] = ['upper', 'lower', 'title']

/** Title case: the first letter of each word upper case, the rest lower case. */
export function recase(text: string, mode: CaseMode): string {
  if (mode === 'upper') return text.toUpperCase()
  if (mode === 'lower') return text.toLowerCase()
  return text.toLowerCase().replace(/(^|[^\p{L}\p{N}'’])(\p{L})/gu, (_, before: string, letter: string) => before + letter.toUpperCase())
}

/** Each punctuation mark (Unicode category P) removed with probability `rate`. */
export function dropPunctuation(text: string, rate: number, rng: Rng): string {
  let out = ''
  for (const c of text) if (!(PUNCTUATION.test(c) && rng() < rate)) out += c
  return out
}

/**
 * Whitespace noise: with probability `rate` each, a leading space and a trailing space (what a missing
 * `trim()` lets through); each inner run of whitespace, with probability `rate`, becomes a double space
 * or a tab (even odds).
 */
export function jitterWhitespace(text: string, rate: number, rng: Rng): string {
  const lead = rng() < rate ? ' ' : ''
  const trail = rng() < rate ? ' ' : ''
  const inner = text.replace(/\s+/g, (run) => (rng() < rate ? (rng() < 0.5 ? '  ' : '\t') : run))
  return lead + inner + trail
}

/** Accents stripped: canonical decomposition (NFD), combining marks removed, recomposed (NFC). */
export function stripAccents(text: string): string {
  const stripped = text.normalize('NFD').replace(COMBINING_MARK, '').normalize('NFC')
  // A string with nothing to strip comes back as it was, even if it was not in NFC.
  return stripped === text.normalize('NFC') ? text : stripped
}
