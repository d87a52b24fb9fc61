import { execFileSync } from 'node:child_process'
import { mkdirSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from '@jest/globals'
import { UserError } from '../../src/core/errors.js'
import { EXCERPT_CHARS, SNIFF_BYTES, assertFile, assertText, excerpt, fileError, fileProblem } from '../../src/core/data/files.js'
import { expectUserError, tempDir } from './helpers.js'

const tmp = tempDir()
afterAll(() => tmp.remove())

/** An error as Node's fs throws it. */
function errno(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code, errno: -1, syscall: 'open' })
}

describe('excerpt', () => {
  it('quotes a short text as JSON, escaping control characters', () => {
    expect(excerpt('abc')).toBe('"abc"')
    expect(excerpt('say "hi"\n\t\x1b[0m')).toBe('"say \\"hi\\"\\n\\t\\u001b[0m"')
    expect(excerpt('a'.repeat(EXCERPT_CHARS))).toBe(`"${'a'.repeat(EXCERPT_CHARS)}"`)
  })

  it('cuts a long text to the first characters and says how long it was', () => {
    const text = 'x'.repeat(50_000_000)
    expect(excerpt(text)).toBe(`"${'x'.repeat(EXCERPT_CHARS)}"… (50000000 characters)`)
    expect(excerpt('abcdefghij', 4)).toBe('"abcd"… (10 characters)')
  })

  it('never cuts a surrogate pair in half', () => {
    const text = `${'a'.repeat(EXCERPT_CHARS - 1)}😀tail`
    expect(excerpt(text)).toBe(`"${'a'.repeat(EXCERPT_CHARS - 1)}"… (${text.length} characters)`)
  })

  it('escapes line separators and bidirectional controls that JSON leaves alone', () => {
    expect(excerpt('a\u2028b\u202ec\u2066')).toBe('"a\\u2028b\\u202ec\\u2066"')
  })
})

describe('fileProblem and fileError', () => {
  it('says what the file system said in words, with the errno code', () => {
    expect(fileProblem(errno('ENOENT', "ENOENT: no such file or directory, open 'x'"))).toBe('file not found')
    expect(fileProblem(errno('EISDIR', 'EISDIR: illegal operation on a directory, read'))).toBe('is a directory, not a file')
    expect(fileProblem(errno('EACCES', "EACCES: permission denied, open 'x'"))).toBe('permission denied (EACCES)')
    expect(fileProblem(errno('EPERM', "EPERM: operation not permitted, open 'x'"))).toBe('operation not permitted (EPERM)')
    expect(fileProblem(errno('ENOTDIR', "ENOTDIR: not a directory, stat 'a/b'"))).toBe('a part of the path is not a directory (ENOTDIR)')
    expect(fileProblem(errno('ELOOP', "ELOOP: too many symbolic links encountered, stat 'x'"))).toBe(
      'too many levels of symbolic links (ELOOP)',
    )
  })

  it('keeps the description of other codes without repeating the path', () => {
    expect(fileProblem(errno('EBADF', "EBADF: bad file descriptor, read '/some/path'"))).toBe('bad file descriptor (EBADF)')
    expect(fileProblem(errno('ESPIPE', 'ESPIPE: invalid seek, read'))).toBe('invalid seek (ESPIPE)')
    expect(fileProblem(new Error('something else'))).toBe('something else')
  })

  it('names the path, keeps the cause, and passes a UserError through', () => {
    const cause = errno('EACCES', "EACCES: permission denied, open 'data.csv'")
    const error = fileError('data.csv', cause)
    expect(error).toBeInstanceOf(UserError)
    expect(error.message).toBe('data.csv: permission denied (EACCES)')
    expect(error.file).toBe('data.csv')
    expect(error.cause).toBe(cause)
    const user = new UserError('x: already said')
    expect(fileError('y', user)).toBe(user)
  })
})

describe('assertFile', () => {
  it('says what a path is when it is not a regular file', async () => {
    const dir = join(tmp.dir, 'a-dir')
    mkdirSync(dir)
    await expectUserError(() => assertFile(dir), `${dir}: is a directory, not a file`, dir)
    const fifo = join(tmp.dir, 'pipe.csv')
    execFileSync('mkfifo', [fifo])
    await expectUserError(() => assertFile(fifo), `${fifo}: is a named pipe (FIFO), not a regular file`, fifo)
    await expectUserError(() => assertFile('/dev/null'), '/dev/null: is a device, not a regular file', '/dev/null')
  })

  it('names the target of a link to a missing file, and a link loop', async () => {
    const link = join(tmp.dir, 'dangling.csv')
    symlinkSync('nowhere.csv', link)
    await expectUserError(() => assertFile(link), `${link}: a symbolic link to a missing file (nowhere.csv)`, link)
    const a = join(tmp.dir, 'loop-a.csv')
    symlinkSync('loop-b.csv', a)
    symlinkSync('loop-a.csv', join(tmp.dir, 'loop-b.csv'))
    await expectUserError(() => assertFile(a), `${a}: too many levels of symbolic links (ELOOP)`, a)
  })

  it('accepts a regular file and a link to one', () => {
    const file = tmp.file('ok.csv', 'a\n1\n')
    symlinkSync(file, join(tmp.dir, 'ok-link.csv'))
    expect(() => assertFile(file)).not.toThrow()
    expect(() => assertFile(join(tmp.dir, 'ok-link.csv'))).not.toThrow()
  })
})

describe('assertText', () => {
  const utf16 = 'f.csv is UTF-16 (or binary); save it as UTF-8'

  it('refuses a UTF-16 byte order mark, either way round', async () => {
    await expectUserError(
      () => assertText('f.csv', Buffer.from([0xff, 0xfe, 0x61, 0])),
      `${utf16} (it starts with the UTF-16 byte order mark FF FE)`,
      'f.csv',
    )
    await expectUserError(
      () => assertText('f.csv', Buffer.from([0xfe, 0xff, 0, 0x61])),
      `${utf16} (it starts with the UTF-16 byte order mark FE FF)`,
    )
  })

  it('refuses a NUL byte in the first bytes, counting from the offset given', async () => {
    await expectUserError(() => assertText('f.csv', Buffer.from('ab\0c')), `${utf16} (byte 3 is NUL)`)
    await expectUserError(() => assertText('f.csv', Buffer.from('ab\0c'), 100), `${utf16} (byte 103 is NUL)`)
  })

  it('accepts UTF-8 (with or without its BOM), and a NUL past the first bytes', () => {
    expect(() => assertText('f.csv', Buffer.from('\ufeffa,b\ncafé,😀\n'))).not.toThrow()
    expect(() => assertText('f.csv', Buffer.concat([Buffer.alloc(SNIFF_BYTES, 'a'), Buffer.from([0])]))).not.toThrow()
    expect(() => assertText('f.csv', Buffer.from([0]), SNIFF_BYTES)).not.toThrow()
    // A byte order mark only counts at the start of the file.
    expect(() => assertText('f.csv', Buffer.from([0xff, 0xfe]), 10)).not.toThrow()
    expect(() => assertText('f.csv', Buffer.alloc(0))).not.toThrow()
  })
})
