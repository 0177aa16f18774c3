/**
 * `@effect/platform`'s HTTP client modules, loaded when a live layer (JSON-RPC node, SNIP-29 paymaster, Chipi) is
 * first built rather than when the library is imported: they are a good part of the cost of a cold import, and an
 * application that runs on the devnet, or only uses the crypto and schemas, never needs them. Types come from
 * `import type`, which is erased.
 */
import type * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as Headers from "@effect/platform/Headers"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Data, type Duration, Effect, FiberRef, Layer, type Option } from "effect"

/** The modules, by path rather than the @effect/platform index, which loads its HTTP server and API modules too. */
export interface Modules {
  readonly FetchHttpClient: typeof FetchHttpClient
  readonly Headers: typeof Headers
  readonly HttpClient: typeof HttpClient
  readonly HttpClientRequest: typeof HttpClientRequest
}

let loading: Promise<Modules> | undefined

const load = (): Promise<Modules> =>
  loading ??= Promise.all([
    import("@effect/platform/FetchHttpClient"),
    import("@effect/platform/Headers"),
    import("@effect/platform/HttpClient"),
    import("@effect/platform/HttpClientRequest")
  ]).then(
    ([FetchHttpClient, Headers, HttpClient, HttpClientRequest]) => ({ FetchHttpClient, Headers, HttpClient, HttpClientRequest }),
    (error: unknown) => {
      // Not kept: a later build tries again (and fails the same way if the peer is really missing).
      loading = undefined
      throw error
    }
  )

/** The modules, imported once per process on first use. A missing `@effect/platform` peer is a defect. */
export const modules: Effect.Effect<Modules> = Effect.promise(load)

/** `FetchHttpClient.layer`, one value for the whole library, so that layers built together share it. */
export const fetchLayer: Layer.Layer<HttpClient.HttpClient> = Layer.unwrapEffect(
  Effect.map(modules, (m) => m.FetchHttpClient.layer)
)

/** What the library reads of an HTTP answer: its status, its `Retry-After`, and its body as JSON when it is JSON. */
export interface Answer {
  readonly status: number
  readonly retryAfter: number | undefined
  /** `None` when the body is not JSON (or could not be read). */
  readonly json: Option.Option<unknown>
  readonly contentType: string | undefined
}

/** An HTTP request that got no answer: timed out, or failed in transport. Carries neither the request nor its headers. */
export class NoAnswer extends Data.TaggedError("NoAnswer")<{
  readonly reason: "timeout" | "transport"
  /** What went wrong underneath (`describeCause`): no header, no body, every URL cut to its host. */
  readonly detail?: string
}> {}

/**
 * What went wrong under an HTTP request, for a failure's message: the underlying error's message and its causes'
 * (a fetch's `TypeError: fetch failed` holds the system error, `connect ECONNREFUSED 127.0.0.1:9545`), with every URL
 * cut to its host (a node's URL may carry an API key in its path, query or user info). Never headers or bodies.
 */
export const describeCause = (cause: unknown): string => {
  const messages: Array<string> = []
  let current = cause
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    // An AggregateError (a host name with several addresses, each refused) says it all in its `errors`.
    const inner = (current as { readonly errors?: unknown }).errors
    const message = current instanceof Error && current.message === "" && Array.isArray(inner)
      ? inner.map((e) => (e instanceof Error ? e.message : String(e))).join(", ")
      : current instanceof Error ? current.message : typeof current === "string" ? current : undefined
    if (message !== undefined && message !== "" && !messages.includes(message)) messages.push(message)
    current = (current as { readonly cause?: unknown }).cause
  }
  return messages.join(": ").replace(/\b(https?:\/\/)(?:[^@/\s?#]*@)?([^/\s?#]+)[^\s]*/g, "$1$2").slice(0, 300)
}

const transport = (e: { readonly _tag: string; readonly reason?: string; readonly cause?: unknown }) => {
  const cause = describeCause(e.cause)
  return new NoAnswer({ reason: "transport", detail: `${e._tag}${e.reason !== undefined ? ` (${e.reason})` : ""}${cause !== "" ? `: ${cause}` : ""}` })
}

/**
 * Sends a request and reads its answer, under one `http.client <METHOD>` span of its own: the request's method, URL
 * and headers (those named in `redacted` and in `Headers.currentRedactedNames` redacted) and the answer's status as
 * attributes, and nothing else. The HTTP client's own span is turned off for it: it ends with the client's response
 * as its exit value, and that response holds the request as sent, secret headers in clear, for any tracer to read.
 * Here neither the request, its headers nor either body leaves: the span's exit is `void`, and a failure is
 * `NoAnswer`, which carries only its reason.
 */
export const send = (
  platform: Modules,
  http: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  options: { readonly timeout: Duration.Duration; readonly redacted: ReadonlyArray<string> }
): Effect.Effect<Answer, NoAnswer> =>
  Effect.gen(function*() {
    let answer: Answer | undefined
    const names = yield* FiberRef.get(platform.Headers.currentRedactedNames)
    const headers = platform.Headers.redact(request.headers, [...names, ...options.redacted.map((n) => n.toLowerCase())])
    const attributes: Record<string, unknown> = { "http.request.method": request.method, "url.full": request.url }
    for (const name in headers) attributes[`http.request.header.${name}`] = String(headers[name])
    yield* Effect.scoped(Effect.gen(function*() {
      const response = yield* http.execute(request).pipe(
        Effect.timeoutFail({ duration: options.timeout, onTimeout: () => new NoAnswer({ reason: "timeout" }) }),
        Effect.catchTags({ RequestError: transport, ResponseError: transport })
      )
      yield* Effect.annotateCurrentSpan("http.response.status_code", response.status)
      const retryAfter = Number(response.headers["retry-after"])
      const json = yield* Effect.option(response.json)
      answer = { status: response.status, retryAfter: Number.isFinite(retryAfter) ? retryAfter : undefined, json, contentType: response.headers["content-type"] }
    })).pipe(
      Effect.locally(platform.HttpClient.currentTracerDisabledWhen, () => true),
      Effect.withSpan(`http.client ${request.method}`, { kind: "client", attributes })
    )
    return answer!
  })
