/**
 * A JSON-RPC 2.0 client over `@effect/platform`'s HttpClient that batches.
 *
 * Each call is an Effect `Request` answered by a batched `RequestResolver`: every request given to the resolver
 * together goes out in one HTTP request, answers are matched by id, and every request of a batch is completed,
 * also when the batch itself fails. Effect batches the requests of one `Effect.all`/`forEach` with
 * `batching: true`; to batch across fibers as well (100 independent `Transactions.wait` fibers polling on the
 * same tick), a collector gathers what every fiber asks while others are still asking (at most a short window) and
 * hands it to the resolver at once.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Deferred, Duration, Effect, Exit, Option, type ParseResult, Redacted, Request, RequestResolver, Schema } from "effect"
import * as Http from "./http.js"

/** A failure of one JSON-RPC request. `code` is the JSON-RPC error code, or the HTTP status, or 0 for the network. */
export class JsonRpcFailure extends Schema.TaggedError<JsonRpcFailure>()("JsonRpcFailure", {
  method: Schema.String,
  code: Schema.Number,
  message: Schema.String,
  data: Schema.optional(Schema.Unknown),
  transient: Schema.Boolean,
  /** Seconds the server asked to wait (HTTP 429 `Retry-After`). */
  retryAfter: Schema.optional(Schema.Number)
}) {}

const ResponseItem = Schema.Struct({
  id: Schema.Union(Schema.Number, Schema.String, Schema.Null),
  result: Schema.optional(Schema.Unknown),
  error: Schema.optional(Schema.Struct({ code: Schema.Number, message: Schema.String, data: Schema.optional(Schema.Unknown) }))
})
const Response = Schema.Union(Schema.Array(ResponseItem), ResponseItem)

/**
 * One JSON-RPC call. `seq` makes every request distinct, so that a cache turned on by the caller
 * (`Effect.withRequestCaching`) can never answer a status poll with an old result.
 */
export class RpcCall extends Request.TaggedClass("RpcCall")<
  unknown,
  JsonRpcFailure,
  { readonly method: string; readonly params: unknown; readonly seq: number }
> {}

/** The message of a failure of the HTTP request itself: its reason and cause, no URL path, no body. */
const transportMessage = (error: Http.NoAnswer): string => `transport: ${error.reason}${error.detail !== undefined && error.detail !== "" ? `: ${error.detail}` : ""}`

/** Batch requests of one flush in flight at once. */
const PARALLEL = 8

export interface ClientOptions {
  readonly url: string
  /** A header given as `Redacted` is also redacted in the HTTP client's span attributes. */
  readonly headers?: Record<string, string | Redacted.Redacted<string>>
  /** Per HTTP request (default 10 seconds). */
  readonly timeout?: Duration.DurationInput
  /**
   * The longest a request waits for requests from other fibers to join its batch (default 5 milliseconds). A batch
   * leaves sooner once no fiber is adding to it: a lone caller does not wait.
   */
  readonly batchWindow?: Duration.DurationInput
  /** The most requests in one HTTP request; larger batches are split (default 100). */
  readonly maxBatchSize?: number
  /**
   * Requests of the same method and params gathered in one window are sent once and share the answer (default
   * false). Only for reads whose answer is the same for every asker at that moment (a read at `latest`): they
   * are still read afresh in each window, so no answer is older than the batch that carries it.
   */
  readonly shareIdentical?: boolean
  /**
   * Another way to the same endpoint, tried first for each request of a batch (a WebSocket connection to the same
   * node): the request's JSON-RPC response object, or `None` when it cannot carry it now; the requests it did not
   * carry go in one HTTP request as before. Only for requests that may be sent twice (reads): one carried and
   * unanswered is sent again over HTTP, and so is one whose method the route's server does not know (-32601), whose
   * method then goes over HTTP only.
   */
  readonly route?: Route
}

/** See `ClientOptions.route`. */
export type Route = (method: string, params: unknown) => Effect.Effect<Option.Option<unknown>>

export interface Client {
  readonly request: (method: string, params: unknown) => Effect.Effect<unknown, JsonRpcFailure>
  /** The batched resolver behind `request`, for callers that batch with `Effect.all(..., { batching: true })`. */
  readonly resolver: RequestResolver.RequestResolver<RpcCall>
  /** Makes a request value for `resolver`. */
  readonly call: (method: string, params: unknown) => RpcCall
  /** HTTP requests sent so far. */
  readonly httpRequests: () => number
}

interface Waiting {
  readonly request: RpcCall
  readonly deferred: Deferred.Deferred<unknown, JsonRpcFailure>
}

/** A client's options as it uses them: the headers as sent, the names of those redacted in spans, its bounds. */
interface Settings {
  readonly url: string
  readonly headers: Record<string, string>
  readonly redactedNames: ReadonlyArray<string>
  readonly timeout: Duration.Duration
  readonly windowMillis: number
  readonly maxBatch: number
  readonly shareIdentical: boolean
  readonly route: Route | undefined
}

const settingsOf = (options: ClientOptions): Settings => ({
  url: options.url,
  headers: Object.fromEntries(
    Object.entries(options.headers ?? {}).map(([k, v]) => [k, Redacted.isRedacted(v) ? Redacted.value(v) : v])
  ),
  redactedNames: Object.entries(options.headers ?? {}).filter(([, v]) => Redacted.isRedacted(v)).map(([k]) => k),
  timeout: Duration.decode(options.timeout ?? "10 seconds"),
  windowMillis: Duration.toMillis(Duration.decode(options.batchWindow ?? "5 millis")),
  maxBatch: Math.max(1, options.maxBatchSize ?? 100),
  shareIdentical: options.shareIdentical === true,
  route: options.route
})

const failAll = (batch: ReadonlyArray<RpcCall>, failure: (r: RpcCall) => JsonRpcFailure) =>
  Effect.forEach(batch, (r) => Request.fail(r, failure(r)), { discard: true })

/** The failure of every request of a batch when the HTTP answer as a whole says no: its status, or a body not JSON. */
const refusalOf = (response: Http.Answer): ((r: RpcCall) => JsonRpcFailure) | undefined => {
  if (response.status === 429 || response.status >= 500) {
    const retryAfter = response.retryAfter
    return (r) =>
      new JsonRpcFailure({
        method: r.method,
        code: response.status,
        message: `HTTP ${response.status}`,
        transient: true,
        ...(retryAfter !== undefined ? { retryAfter } : {})
      })
  }
  if (response.status >= 400) {
    return (r) => new JsonRpcFailure({ method: r.method, code: response.status, message: `HTTP ${response.status}`, transient: false })
  }
  // A body that is not JSON (an HTML page from a wrong URL, a proxy's error page) will not become JSON on a retry.
  if (Option.isNone(response.json)) {
    return (r) =>
      new JsonRpcFailure({
        method: r.method,
        code: 0,
        message: `HTTP ${response.status} answered with a body that is not JSON (content-type: ${response.contentType ?? "none"}): is this URL a JSON-RPC endpoint?`,
        transient: false
      })
  }
  return undefined
}

/** Completes each request of a batch with the answer carrying its id. */
const completeFrom = (batch: ReadonlyArray<RpcCall>, ids: ReadonlyArray<number>, json: unknown) =>
  Effect.gen(function*() {
    const decoded = yield* Schema.decodeUnknown(Response)(json)
    const items = Array.isArray(decoded) ? decoded : [decoded]
    const byId = new Map(items.map((item) => [item.id, item]))
    yield* Effect.forEach(batch, (r, i) => {
      const item = byId.get(ids[i]!)
      if (item === undefined) {
        return Request.fail(r, new JsonRpcFailure({ method: r.method, code: -32603, message: "no answer for this request in the batch", transient: true }))
      }
      if (item.error !== undefined) {
        return Request.fail(r, new JsonRpcFailure({ method: r.method, code: item.error.code, message: item.error.message, data: item.error.data, transient: false }))
      }
      return Request.succeed(r, item.result)
    }, { discard: true })
  })

/** Whatever went wrong with a batch as a whole, every request in it is completed. */
const completedWhatever = (batch: ReadonlyArray<RpcCall>) => <R>(effect: Effect.Effect<void, Http.NoAnswer | ParseResult.ParseError, R>) =>
  effect.pipe(
    Effect.catchAll((error) =>
      failAll(batch, (r) =>
        new JsonRpcFailure({
          method: r.method,
          code: 0,
          message: error._tag === "NoAnswer"
            ? (error.reason === "timeout" ? "request timed out" : transportMessage(error))
            : "the answer is not a JSON-RPC response",
          transient: error._tag !== "ParseError"
        }))
    ),
    // A defect in decoding or completing must not leave a caller waiting for ever.
    Effect.catchAllDefect((defect) =>
      failAll(batch, (r) => new JsonRpcFailure({ method: r.method, code: 0, message: `client defect: ${String(defect)}`, transient: false }))
    )
  )

/** The sending of batches: one HTTP request per batch, its requests numbered, every one of them completed. */
const makeSender = (platform: Http.Modules, http: HttpClient.HttpClient, settings: Settings) => {
  const { HttpClientRequest } = platform
  let nextId = 1
  let sent = 0
  // Methods the route's server answered "method not found" (-32601): sent over HTTP from then on. A node may serve
  // only the subscriptions on its WebSocket endpoint.
  const notRouted = new Set<string>()
  /** The batch's requests the route carried are completed; those it did not are left, for HTTP. */
  const carried = (route: Route, batch: ReadonlyArray<RpcCall>) =>
    Effect.gen(function*() {
      const answers = yield* Effect.forEach(
        batch,
        (r) => (notRouted.has(r.method) ? Effect.succeedNone : route(r.method, r.params)),
        { concurrency: "unbounded" }
      )
      const left: Array<RpcCall> = []
      const done: Array<RpcCall> = []
      const items: Array<unknown> = []
      answers.forEach((answer, i) => {
        const request = batch[i]!
        if (Option.isNone(answer) || typeof answer.value !== "object" || answer.value === null) left.push(request)
        else if ((answer.value as { readonly error?: { readonly code?: unknown } }).error?.code === -32601) {
          notRouted.add(request.method)
          left.push(request)
        } else {
          done.push(request)
          items.push({ ...answer.value, id: items.length })
        }
      })
      if (done.length > 0) yield* completeFrom(done, done.map((_, i) => i), items).pipe(completedWhatever(done))
      return left
    })
  const send = (all: ReadonlyArray<RpcCall>) =>
    Effect.gen(function*() {
      const batch = settings.route === undefined ? all : yield* carried(settings.route, all)
      if (batch.length === 0) return
      sent++
      const ids = batch.map(() => nextId++)
      const body = batch.length === 1
        ? { jsonrpc: "2.0", id: ids[0], method: batch[0]!.method, params: batch[0]!.params }
        : batch.map((r, i) => ({ jsonrpc: "2.0", id: ids[i], method: r.method, params: r.params }))
      const request = HttpClientRequest.post(settings.url).pipe(
        HttpClientRequest.setHeaders(settings.headers),
        HttpClientRequest.bodyUnsafeJson(body)
      )
      const response = yield* Http.send(platform, http, request, { timeout: settings.timeout, redacted: settings.redactedNames })
      const refusal = refusalOf(response)
      if (refusal !== undefined) return yield* failAll(batch, refusal)
      yield* completeFrom(batch, ids, Option.getOrUndefined(response.json))
    }).pipe(completedWhatever(all))
  return { send, sent: () => sent }
}

/** With `shareIdentical`, one request per distinct method and params; every asker gets its answer. */
const share = (shareIdentical: boolean, batch: ReadonlyArray<Waiting>): ReadonlyArray<ReadonlyArray<Waiting>> => {
  if (!shareIdentical || batch.length < 2) return batch.map((w) => [w])
  const groups = new Map<string, Array<Waiting>>()
  let unique = 0
  for (const w of batch) {
    let key: string
    try {
      key = `${w.request.method}\u0000${JSON.stringify(w.request.params)}`
    } catch {
      key = `\u0001${unique++}` // not serialisable here: sent alone, and its own send reports the fault
    }
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [w])
    else group.push(w)
  }
  return [...groups.values()]
}

const chunksOf = <A>(all: ReadonlyArray<A>, size: number) =>
  Array.from({ length: Math.ceil(all.length / size) }, (_, i) => all.slice(i * size, (i + 1) * size))

/**
 * The batches of one flush are sent side by side (at most `PARALLEL` at a time), not one after the other: the
 * resolver's own split (`batchN`) would wait for each answer before sending the next batch.
 */
const dispatch = (
  resolver: RequestResolver.RequestResolver<RpcCall>,
  maxBatch: number,
  batch: ReadonlyArray<Waiting>,
  groups: ReadonlyArray<ReadonlyArray<Waiting>>
) =>
  Effect.forEach(
    chunksOf(groups, maxBatch),
    (chunk) =>
      Effect.forEach(
        chunk,
        (group) =>
          Effect.request(group[0]!.request, resolver).pipe(
            Effect.exit,
            Effect.flatMap((exit) => Effect.forEach(group, ({ deferred }) => Deferred.done(deferred, exit), { discard: true }))
          ),
        { batching: true, concurrency: "unbounded", discard: true }
      ),
    { concurrency: PARALLEL, discard: true }
  ).pipe(
    Effect.onExit((exit) =>
      Exit.isSuccess(exit) ? Effect.void : Effect.forEach(batch, ({ deferred }) => Deferred.failCause(deferred, exit.cause), { discard: true })
    )
  )

const afterThisTurn = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})
const sleepReal = (millis: number) =>
  Effect.async<void>((resume) => {
    const handle = setTimeout(() => resume(Effect.void), millis)
    return Effect.sync(() => clearTimeout(handle))
  })

/**
 * The cross-fiber collector. What every fiber asks while others are still adding leaves as one batch: the batch
 * leaves once the event loop's current turn is over (every fiber woken in it, by a poll's timer say, has asked) and a
 * round of the fiber scheduler adds nothing more (every fiber able to run has run), or at the latest `batchWindow`
 * after its oldest request. A lone caller thus waits no timer at all. A wave of more than `maxBatchSize` distinct
 * requests waits one more window for its stragglers (timers of one poll tick that fire a turn later), so that N
 * requests of one tick go in ceil(N / maxBatchSize) HTTP requests.
 * The window is real time, not `Clock`: a batch must leave even while a TestClock stands still.
 */
const makeCollector = (settings: Settings, resolver: RequestResolver.RequestResolver<RpcCall>, call: (method: string, params: unknown) => RpcCall) => {
  const { maxBatch, windowMillis } = settings
  let waiting: Array<Waiting> = []
  let oldest = 0
  let scheduled = false

  const flush = Effect.gen(function*() {
    yield* afterThisTurn
    for (;;) {
      const seen = waiting.length
      yield* Effect.yieldNow()
      if (waiting.length === seen || performance.now() - oldest >= windowMillis) break
    }
    let groups = share(settings.shareIdentical, waiting)
    if (groups.length > maxBatch && groups.length % maxBatch !== 0) {
      // A wave larger than one batch: one more window for its late timers, so that its last batch is not split.
      yield* sleepReal(windowMillis)
      groups = share(settings.shareIdentical, waiting)
    }
    const batch = waiting
    waiting = []
    scheduled = false
    yield* dispatch(resolver, maxBatch, batch, groups)
  })

  return (method: string, params: unknown) =>
    Effect.gen(function*() {
      const deferred = yield* Deferred.make<unknown, JsonRpcFailure>()
      if (waiting.length === 0) oldest = performance.now()
      waiting.push({ request: call(method, params), deferred })
      if (!scheduled) {
        scheduled = true
        yield* Effect.forkDaemon(flush)
      }
      return yield* Deferred.await(deferred)
    })
}

export const make = (options: ClientOptions): Effect.Effect<Client, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const platform = yield* Http.modules
    const http = yield* platform.HttpClient.HttpClient
    const settings = settingsOf(options)
    const sender = makeSender(platform, http, settings)
    const resolver = RequestResolver.makeBatched((batch: ReadonlyArray<RpcCall>) => sender.send(batch)).pipe(
      RequestResolver.batchN(settings.maxBatch)
    )
    let nextSeq = 1
    const call = (method: string, params: unknown) => new RpcCall({ method, params, seq: nextSeq++ })
    const request = makeCollector(settings, resolver, call)
    return { request, resolver, call, httpRequests: sender.sent }
  })
