/**
 * JSON-RPC 2.0 as the specification (https://www.jsonrpc.org/specification) states it, for the served devnet:
 * -32700 for a body that is not JSON, -32600 for an entry that is not a request (and for an empty batch, answered
 * with one error, not an array), -32601 for an unknown method, -32602 for params a method's Schema refuses,
 * -32603 for a defect. Notifications (no `id`) are carried out and never answered. A batch is answered entry by
 * entry: every entry's params are decoded before any entry runs, so an invalid entry is refused on its own and
 * never leaves half a batch applied; the valid ones then run in order. A batch is worked through in slices of a
 * few milliseconds, each followed by a turn of the event loop, so other clients are answered while it runs; its
 * answers are encoded one by one as they come, never as one large synchronous `JSON.stringify`.
 */
import { Cause, Effect, Either, ParseResult, type Schema } from "effect"
import { nextTurn } from "../turn.js"
import { describeIssue } from "./refusal.js"

/** An error answered in a JSON-RPC error object. */
export class WireError {
  constructor(readonly code: number, readonly message: string, readonly data?: unknown) {}
}

/** A transient failure of the whole HTTP exchange: an HTTP status, or 0 for a connection closed without answer. */
export class Transient {
  readonly _tag = "Transient"
  constructor(readonly status: number = 503) {}
}

export const invalidParams = (message: string) => new WireError(-32602, `Invalid params: ${message}`)

/**
 * Where params hold the `"pending"` block tag (`block_id`, or a filter's `from_block` / `to_block`): JSON-RPC 0.8 and
 * before had it, 0.9 replaced it with `"pre_confirmed"` (starknet.js 7.x still sends it by default).
 */
const pendingBlockTag = (params: Record<string, unknown>, prefix = ""): string | undefined => {
  for (const [key, value] of Object.entries(params)) {
    if (value === "pending" && (key === "block_id" || key.endsWith("_block"))) return prefix + key
    if (prefix === "" && typeof value === "object" && value !== null && !Array.isArray(value)) {
      const inner = pendingBlockTag(value as Record<string, unknown>, `${key}.`)
      if (inner !== undefined) return inner
    }
  }
  return undefined
}

const pendingRefused = (path: string) =>
  invalidParams(
    `${path}: "pending" is not a block id of JSON-RPC 0.9, which this devnet speaks: use "pre_confirmed" (RPC 0.9), ` +
      `or "latest" (starknet.js 7.x sends "pending" by default; starknet.js 8 and later speak 0.9)`
  )

/**
 * One method: the names of its params in positional order (clients send params by name or by position), the
 * Schema they must pass, and what it does with them.
 */
export interface Method {
  readonly names: ReadonlyArray<string>
  readonly decode: (params: Record<string, unknown>) => Either.Either<unknown, WireError>
  readonly run: (params: any) => Effect.Effect<unknown, WireError | Transient>
  /** SNIP-29 clients may send the params object itself as the only element of an array. */
  readonly wrapped?: boolean
}

export type Methods = Readonly<Record<string, Method>>

/** Defines a method whose params are decoded with `schema` (by name; positional params are named by `names`). */
export const method = <A, I>(
  names: ReadonlyArray<string>,
  schema: Schema.Schema<A, I, never>,
  run: (params: A) => Effect.Effect<unknown, WireError | Transient>,
  options: { readonly wrapped?: boolean } = {}
): Method => {
  // ParseResult's decoder answers the issue itself: no ParseError (an Error, its stack captured) per refusal.
  const decode = ParseResult.decodeUnknownEither(schema, { errors: "first" })
  return {
    names,
    decode: (params) =>
      Either.mapLeft(decode(params), (issue) => {
        const pending = pendingBlockTag(params)
        return pending !== undefined ? pendingRefused(pending) : invalidParams(describeIssue(issue))
      }),
    run,
    ...(options.wrapped === true ? { wrapped: true } : {})
  }
}

/** The hooks a transport gives: who may call what, and what wraps each call (faults, counting). */
export interface Hooks {
  readonly maxBatch: number
  /** An error if the request may not call this method (a missing key). */
  readonly authorize: (method: string) => WireError | undefined
  /** Wraps the run of one entry (e.g. the devnet's faults, by wire method name). */
  readonly around: <A>(method: string, run: Effect.Effect<A, WireError | Transient>) => Effect.Effect<A, WireError | Transient>
}

type Id = string | number | null
type Answer =
  | { readonly jsonrpc: "2.0"; readonly id: Id; readonly result: unknown }
  | { readonly jsonrpc: "2.0"; readonly id: Id; readonly error: { readonly code: number; readonly message: string; readonly data?: unknown } }

const errorAnswer = (id: Id, e: WireError): Answer => ({
  jsonrpc: "2.0",
  id,
  error: { code: e.code, message: e.message, ...(e.data !== undefined ? { data: e.data } : {}) }
})

export const parseError: Answer = errorAnswer(null, new WireError(-32700, "Parse error"))

/** A body beyond the shape bounds (`bounds.ts`): refused whole, never parsed. */
export const outOfBounds = (what: string): Answer => errorAnswer(null, new WireError(-32600, `Invalid Request: ${what}`))

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const isId = (u: unknown): u is Id => typeof u === "string" || (typeof u === "number" && Number.isFinite(u)) || u === null

/** An entry checked and decoded, ready to run; or its answer already known. */
type Prepared =
  | { readonly _tag: "Answer"; readonly answer: Answer | undefined }
  | { readonly _tag: "Run"; readonly id: Id; readonly notification: boolean; readonly name: string; readonly method: Method; readonly params: unknown }

const prepare = (methods: Methods, hooks: Hooks, entry: unknown): Prepared => {
  const answer = (a: Answer | undefined): Prepared => ({ _tag: "Answer", answer: a })
  if (!isRecord(entry)) return answer(errorAnswer(null, new WireError(-32600, "Invalid Request: not a JSON-RPC request object")))
  const hasId = "id" in entry
  const id = hasId && isId(entry["id"]) ? entry["id"] : null
  if (hasId && !isId(entry["id"])) return answer(errorAnswer(null, new WireError(-32600, "Invalid Request: id must be a string, a number or null")))
  if (entry["jsonrpc"] !== "2.0") return answer(errorAnswer(id, new WireError(-32600, "Invalid Request: jsonrpc must be exactly \"2.0\"")))
  if (typeof entry["method"] !== "string") return answer(errorAnswer(id, new WireError(-32600, "Invalid Request: method must be a string")))
  const raw = entry["params"]
  if (raw !== undefined && typeof raw !== "object") return answer(errorAnswer(id, new WireError(-32600, "Invalid Request: params must be an array or an object")))
  if (raw === null) return answer(errorAnswer(id, new WireError(-32600, "Invalid Request: params must be an array or an object")))
  // From here on the entry is a well-formed request: a notification gets no answer, whatever happens to it.
  const notification = !hasId
  const fail = (e: WireError) => answer(notification ? undefined : errorAnswer(id, e))
  const name = entry["method"]
  const method = Object.hasOwn(methods, name) ? methods[name] : undefined
  if (method === undefined) return fail(new WireError(-32601, `Method not found: ${name.length > 100 ? name.slice(0, 100) + "…" : name}`))
  const refused = hooks.authorize(name)
  if (refused !== undefined) return fail(refused)
  let named: Record<string, unknown>
  if (raw === undefined) {
    named = {}
  } else if (Array.isArray(raw)) {
    if (method.wrapped === true && raw.length === 1 && isRecord(raw[0])) {
      named = raw[0]
    } else {
      if (raw.length > method.names.length) {
        return fail(invalidParams(`${name} takes at most ${method.names.length} params, got ${raw.length}`))
      }
      named = Object.fromEntries(raw.map((v, i) => [method.names[i]!, v]))
    }
  } else {
    named = raw as Record<string, unknown>
  }
  const decoded = method.decode(named)
  if (Either.isLeft(decoded)) return fail(decoded.left)
  return { _tag: "Run", id, notification, name, method, params: decoded.right }
}

/** An answer already encoded as JSON text (a batch's, encoded entry by entry). */
export class Encoded {
  constructor(readonly json: string) {}
}

export const batchTooLarge = (maxBatch: number, got?: number): Answer =>
  errorAnswer(null, new WireError(-32600, `Invalid Request: a batch holds at most ${maxBatch} requests, got ${got ?? "more"}`))

/** One answer as JSON text; one that cannot be encoded (a defect) answers -32603 for its entry. */
const encode = (a: Answer | undefined): string | undefined => {
  if (a === undefined) return undefined
  try {
    return JSON.stringify(a)
  } catch {
    return JSON.stringify(errorAnswer(a.id, new WireError(-32603, "Internal error")))
  }
}

/** Longest a batch runs before it lets the event loop take a turn (other clients' requests, timers). */
const SLICE_MILLIS = 4


/** `f` on each item in order, in slices of `SLICE_MILLIS` with a turn of the event loop after each. */
const inSlices = <A, B, E>(items: ReadonlyArray<A>, f: (a: A) => Effect.Effect<B, E>): Effect.Effect<Array<B>, E> =>
  Effect.gen(function*() {
    const out: Array<B> = []
    let since = performance.now()
    for (const item of items) {
      out.push(yield* f(item))
      if (performance.now() - since >= SLICE_MILLIS) {
        yield* nextTurn
        since = performance.now()
      }
    }
    return out
  })

/**
 * Runs one entry: its result, or its `WireError` answered; a `Transient` fails the exchange; a bug answers -32603
 * for this entry and never takes the exchange (or the server) down. One match over the outcome, as every request
 * passes here.
 */
const run = (hooks: Hooks, p: Extract<Prepared, { _tag: "Run" }>): Effect.Effect<Answer | undefined, Transient> =>
  Effect.matchCauseEffect(hooks.around(p.name, Effect.suspend(() => p.method.run(p.params))), {
    onSuccess: (result) => Effect.succeed(p.notification ? undefined : { jsonrpc: "2.0", id: p.id, result: result === undefined ? null : result }),
    onFailure: (cause): Effect.Effect<Answer | undefined, Transient> => {
      const failure = Cause.failureOption(cause)
      if (failure._tag === "Some") {
        const e = failure.value
        return e instanceof WireError ? Effect.succeed(p.notification ? undefined : errorAnswer(p.id, e)) : Effect.fail(e)
      }
      if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
      return Effect.as(
        Effect.logError("devnet: defect answering " + p.name, cause),
        p.notification ? undefined : errorAnswer(p.id, new WireError(-32603, "Internal error"))
      )
    }
  })

/**
 * Answers a parsed JSON-RPC body: an answer object, an array of them for a batch, or `undefined` when nothing is
 * to be answered (notifications only). Fails only with a `Transient` of the whole exchange (an injected fault).
 */
export const answer = (methods: Methods, hooks: Hooks, body: unknown): Effect.Effect<unknown, Transient> => {
  if (!Array.isArray(body)) {
    const p = prepare(methods, hooks, body)
    return p._tag === "Answer" ? Effect.succeed(p.answer) : run(hooks, p)
  }
  if (body.length === 0) return Effect.succeed(errorAnswer(null, new WireError(-32600, "Invalid Request: empty batch")))
  if (body.length > hooks.maxBatch) return Effect.succeed(batchTooLarge(hooks.maxBatch, body.length))
  return Effect.gen(function*() {
    // Every entry is decoded before any runs; both passes leave the event loop free between slices.
    const prepared = yield* inSlices(body, (entry) => Effect.sync(() => prepare(methods, hooks, entry)))
    const encoded = yield* inSlices(prepared, (p) =>
      (p._tag === "Answer" ? Effect.succeed(p.answer) : run(hooks, p)).pipe(Effect.map(encode)))
    const sent = encoded.filter((a) => a !== undefined)
    return sent.length === 0 ? undefined : new Encoded(`[${sent.join(",")}]`)
  })
}
