/**
 * A small, strict XML 1.0 well-formedness parser for tests: one root element, balanced tags,
 * quoted unique attributes, only predefined or numeric entity references, no `<` or `&` loose in
 * text or attributes, no characters XML 1.0 forbids. Returns the element tree with decoded text.
 */
export interface XmlElement {
  name: string
  attrs: Record<string, string>
  children: XmlElement[]
  text: string
}

const NAME = /^[A-Za-z_:][A-Za-z0-9_:.-]*/
const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }
const ALLOWED_CHAR = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u

function decode(raw: string, where: number): string {
  if (raw.includes('<')) throw new Error(`'<' in character data at ${where}`)
  return raw.replace(/&([^;]*);?/g, (whole, ref: string) => {
    if (!whole.endsWith(';')) throw new Error(`unterminated reference at ${where}`)
    if (ref in PREDEFINED) return PREDEFINED[ref]!
    const numeric = /^#(x[0-9a-fA-F]+|[0-9]+)$/.exec(ref)
    if (!numeric) throw new Error(`unknown entity &${ref}; at ${where}`)
    const code = numeric[1]!.startsWith('x') ? parseInt(numeric[1]!.slice(1), 16) : parseInt(numeric[1]!, 10)
    const char = String.fromCodePoint(code)
    if (!ALLOWED_CHAR.test(char)) throw new Error(`reference to a forbidden character at ${where}`)
    return char
  })
}

export function parseXml(xml: string): XmlElement {
  if (!ALLOWED_CHAR.test(xml)) throw new Error('document contains a character XML 1.0 forbids')
  let i = 0
  const skipSpace = (): void => {
    while (i < xml.length && /\s/.test(xml[i]!)) i++
  }
  const expect = (s: string): void => {
    if (!xml.startsWith(s, i)) throw new Error(`expected ${JSON.stringify(s)} at ${i}`)
    i += s.length
  }
  const name = (): string => {
    const m = NAME.exec(xml.slice(i, i + 200))
    if (!m) throw new Error(`expected a name at ${i}`)
    i += m[0].length
    return m[0]
  }

  if (xml.startsWith('<?xml')) {
    const end = xml.indexOf('?>')
    if (end < 0) throw new Error('unterminated declaration')
    i = end + 2
  }
  const stack: XmlElement[] = []
  let root: XmlElement | undefined
  let rootOpened = false
  skipSpace()
  while (i < xml.length) {
    if (xml.startsWith('</', i)) {
      i += 2
      const closing = name()
      skipSpace()
      expect('>')
      const open = stack.pop()
      if (!open || open.name !== closing) throw new Error(`</${closing}> does not close <${open?.name}> at ${i}`)
      if (stack.length === 0) root = open
    } else if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i)
      if (end < 0) throw new Error('unterminated comment')
      i = end + 3
    } else if (xml[i] === '<') {
      if (stack.length === 0) {
        if (rootOpened) throw new Error(`more than one root element at ${i}`)
        rootOpened = true
      }
      i++
      const element: XmlElement = { name: name(), attrs: {}, children: [], text: '' }
      for (;;) {
        const before = i
        skipSpace()
        if (xml.startsWith('/>', i) || xml[i] === '>') break
        if (i === before) throw new Error(`expected whitespace before an attribute at ${i}`)
        const key = name()
        skipSpace()
        expect('=')
        skipSpace()
        const quote = xml[i]
        if (quote !== '"' && quote !== "'") throw new Error(`unquoted attribute ${key} at ${i}`)
        const end = xml.indexOf(quote, i + 1)
        if (end < 0) throw new Error(`unterminated attribute ${key}`)
        if (key in element.attrs) throw new Error(`duplicate attribute ${key}`)
        element.attrs[key] = decode(xml.slice(i + 1, end), i)
        i = end + 1
      }
      const parent = stack.at(-1)
      if (parent) parent.children.push(element)
      if (xml.startsWith('/>', i)) {
        i += 2
        if (!parent) root = element
      } else {
        i += 1
        stack.push(element)
      }
    } else {
      const end = xml.indexOf('<', i)
      const raw = xml.slice(i, end < 0 ? undefined : end)
      const owner = stack.at(-1)
      if (!owner) {
        if (raw.trim() !== '') throw new Error(`text outside the root element at ${i}`)
      } else {
        if (raw.includes(']]>')) throw new Error(`']]>' in text at ${i}`)
        owner.text += decode(raw, i)
      }
      i = end < 0 ? xml.length : end
    }
  }
  if (stack.length > 0) throw new Error(`<${stack.at(-1)!.name}> is never closed`)
  if (!root) throw new Error('no root element')
  return root
}

/** Every element named `name`, depth first. */
export function findAll(element: XmlElement, name: string): XmlElement[] {
  const here = element.name === name ? [element] : []
  return [...here, ...element.children.flatMap((c) => findAll(c, name))]
}
