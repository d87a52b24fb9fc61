/*
 * The few SemVer functions the registry uses, from semver's per-function modules: the package's root
 * also loads ranges, comparators and coercion, which the bundle would carry for nothing.
 */
import compare from 'semver/functions/compare.js'
import diff from 'semver/functions/diff.js'
import inc from 'semver/functions/inc.js'
import lt from 'semver/functions/lt.js'
import valid from 'semver/functions/valid.js'

export default { compare, diff, inc, lt, valid }
