import { describe, expect, it } from '@jest/globals'
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { generatedFiles, ROOT } from '../scripts/generate.js'

// `npm run generate` sets MODELGATE_UPDATE=1 to rewrite the files instead of checking them.
const update = process.env.MODELGATE_UPDATE === '1'

describe('generated files are up to date (npm run generate rewrites them)', () => {
  for (const [file, expected] of Object.entries(generatedFiles())) {
    it(file, () => {
      const full = path.join(ROOT, file)
      if (update) {
        mkdirSync(path.dirname(full), { recursive: true })
        writeFileSync(full, expected)
      }
      expect(existsSync(full)).toBe(true)
      expect(readFileSync(full, 'utf8')).toBe(expected)
    })
  }
})
