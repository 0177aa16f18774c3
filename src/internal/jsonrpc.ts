/**
 * A JSON-RPC 2.0 client over `@effect/platform`'s HttpClient that batches: every request made in the same tick,
 * from any fiber, goes out in one HTTP request; answers are matched by id, and every request of a batch is
 * completed, also when the batch itself fails.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Deferred, Duration, Effect, Redacted, Schema } from "effect"

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

export interface ClientOptions {
  readonly url: string
  readonly headers?: Record<string, string | Redacted.Redacted<string>>
  /** Per HTTP request (default 10 seconds). */
  readonly timeout?: Duration.DurationInput
  /** How long requests are gathered into one batch (default 5 milliseconds). */
  readonly batchWindow?: Duration.DurationInput
}

interface Pending {
  readonly id: number
  readonly method: string
  readonly params: unknown
  readonly deferred: Deferred.Deferred<unknown, JsonRpcFailure>
}

export interface Client {
  readonly request: (method: string, params: unknown) => Effect.Effect<unknown, JsonRpcFailure>
  /** HTTP requests sent so far. */
  readonly httpRequests: () => number
}

export const make = (options: ClientOptions): Effect.Effect<Client, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    const timeout = Duration.decode(options.timeout ?? "10 seconds")
    const windowMillis = Duration.toMillis(Duration.decode(options.batchWindow ?? "5 millis"))
    const headers = Object.fromEntries(
      Object.entries(options.headers ?? {}).map(([k, v]) => [k, Redacted.isRedacted(v) ? Redacted.value(v) : v])
    )
    let queue: Array<Pending> = []
    let scheduled = false
    let nextId = 1
    let sent = 0

    const failAll = (batch: ReadonlyArray<Pending>, failure: (p: Pending) => JsonRpcFailure) =>
      Effect.forEach(batch, (p) => Deferred.fail(p.deferred, failure(p)), { discard: true })

    const send = (batch: ReadonlyArray<Pending>) =>
      Effect.gen(function*() {
        sent++
        const body = batch.length === 1
          ? { jsonrpc: "2.0", id: batch[0]!.id, method: batch[0]!.method, params: batch[0]!.params }
          : batch.map((p) => ({ jsonrpc: "2.0", id: p.id, method: p.method, params: p.params }))
        const request = HttpClientRequest.post(options.url).pipe(
          HttpClientRequest.setHeaders(headers),
          HttpClientRequest.bodyUnsafeJson(body)
        )
        const response = yield* http.execute(request).pipe(Effect.timeout(timeout))
        if (response.status === 429 || response.status >= 500) {
          const retryAfter = Number(response.headers["retry-after"])
          return yield* failAll(batch, (p) =>
            new JsonRpcFailure({
              method: p.method,
              code: response.status,
              message: `HTTP ${response.status}`,
              transient: true,
              ...(Number.isFinite(retryAfter) ? { retryAfter } : {})
            }))
        }
        if (response.status >= 400) {
          return yield* failAll(batch, (p) => new JsonRpcFailure({ method: p.method, code: response.status, message: `HTTP ${response.status}`, transient: false }))
        }
        const json = yield* response.json
        const decoded = yield* Schema.decodeUnknown(Response)(json)
        const items = Array.isArray(decoded) ? decoded : [decoded]
        const byId = new Map(items.map((item) => [item.id, item]))
        yield* Effect.forEach(batch, (p) => {
          const item = byId.get(p.id)
          if (item === undefined) {
            return Deferred.fail(p.deferred, new JsonRpcFailure({ method: p.method, code: -32603, message: "no answer for this request in the batch", transient: true }))
          }
          if (item.error !== undefined) {
            return Deferred.fail(p.deferred, new JsonRpcFailure({ method: p.method, code: item.error.code, message: item.error.message, data: item.error.data, transient: false }))
          }
          return Deferred.succeed(p.deferred, item.result)
        }, { discard: true })
      }).pipe(
        // Whatever went wrong with the batch as a whole, every request in it is completed.
        Effect.catchAll((error) =>
          failAll(batch, (p) =>
            new JsonRpcFailure({
              method: p.method,
              code: 0,
              message: error._tag === "TimeoutException" ? "request timed out" : `transport: ${error._tag}`,
              transient: error._tag !== "ParseError"
            }))
        )
      )

    const flush = Effect.gen(function*() {
      // Let every fiber that wants to ask in this tick do so. The window is real time, not `Clock`: a batch must
      // leave even while a TestClock stands still.
      yield* Effect.async<void>((resume) => {
        const handle = setTimeout(() => resume(Effect.void), windowMillis)
        return Effect.sync(() => clearTimeout(handle))
      })
      const batch = queue
      queue = []
      scheduled = false
      if (batch.length > 0) yield* send(batch)
    })

    const request = (method: string, params: unknown) =>
      Effect.gen(function*() {
        const deferred = yield* Deferred.make<unknown, JsonRpcFailure>()
        queue.push({ id: nextId++, method, params, deferred })
        if (!scheduled) {
          scheduled = true
          yield* Effect.forkDaemon(flush)
        }
        return yield* Deferred.await(deferred)
      })

    return { request, httpRequests: () => sent }
  })
