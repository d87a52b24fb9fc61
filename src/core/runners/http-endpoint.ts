/*
 * Which protocol a model URL speaks and where its endpoints are, told from the URL alone so that a
 * manifest can name a model server the way its documentation does (…/infer, …:predict, …/invocations).
 * A URL with credentials in it is refused, and registered as a secret first so that no message shows it.
 */
import { UserError } from '../errors.js'
import { scrub, secrets } from '../secrets.js'

export type HttpProtocol = 'v2' | 'v1' | 'mlflow'

/** Where and how to call the model, resolved from the options. */
export interface HttpEndpoint {
  protocol: HttpProtocol
  inferUrl: string
  /** V2 model metadata (`GET`), which lists the model's inputs and outputs. */
  metadataUrl?: string
  model?: string
}

/** Works out the protocol and the endpoint URLs; a UserError when they cannot be told. */
export function resolveHttpEndpoint(url: string, protocol?: HttpProtocol, model?: string): HttpEndpoint {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    secrets.addUrl(url)
    throw new UserError(`model url ${JSON.stringify(scrub(url))} is not a valid URL`, { field: 'url' })
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new UserError(`model url ${url}: only http and https are supported`, { field: 'url' })
  if (parsed.username !== '' || parsed.password !== '') {
    secrets.addUrl(url)
    throw new UserError(`model url: do not put credentials in the URL; pass them as headers (e.g. Authorization)`, {
      field: 'url',
    })
  }
  const path = parsed.pathname.replace(/\/+$/, '')
  const at = (p: string): string => `${parsed.origin}${p}${parsed.search}`
  const base = (p: string): string => at(`${path}${p}`)
  const v2 = /^(.*\/v2\/models\/([^/]+)(?:\/versions\/[^/]+)?)(?:\/infer)?$/.exec(path)
  const v1 = /^(.*\/v1\/models\/([^/:]+))(?::predict)?$/.exec(path)
  const inferred: HttpProtocol | undefined = v2
    ? 'v2'
    : /:predict$/.test(path) || v1
      ? 'v1'
      : /\/invocations$/.test(path)
        ? 'mlflow'
        : undefined
  const chosen = protocol ?? inferred
  if (chosen === undefined)
    throw new UserError(
      `model url ${url}: cannot tell the protocol from the URL (expected …/v2/models/<name>/infer, …/v1/models/<name>:predict or …/invocations); set protocol to v2, v1 or mlflow`,
      { field: 'protocol' },
    )
  const named = (fromUrl: string | undefined): string => {
    const name = fromUrl !== undefined ? decodeURIComponent(fromUrl) : model
    if (fromUrl !== undefined && model !== undefined && model !== name)
      throw new UserError(`model url ${url} names model ${name} but model is ${model}`, { field: 'model' })
    if (name === undefined || name === '')
      throw new UserError(`model url ${url}: the ${chosen} protocol needs a model name; add it to the URL or set model`, {
        field: 'model',
      })
    return name
  }
  switch (chosen) {
    case 'v2': {
      const name = named(v2?.[2])
      const prefix = v2 ? v2[1]! : `${path}/v2/models/${encodeURIComponent(name)}`
      return { protocol: 'v2', inferUrl: at(`${prefix}/infer`), metadataUrl: at(prefix), model: name }
    }
    case 'v1': {
      const name = named(v1?.[2])
      const prefix = v1 ? v1[1]! : `${path}/v1/models/${encodeURIComponent(name)}`
      return { protocol: 'v1', inferUrl: at(`${prefix}:predict`), model: name }
    }
    case 'mlflow':
      return { protocol: 'mlflow', inferUrl: /\/invocations$/.test(path) ? base('') : base('/invocations') }
  }
}
