/**
 * The devnet on the wire: its `starknet_*`, `paymaster_*` and `devnet_*` methods as JSON-RPC 2.0 over HTTP and
 * Chipi's REST routes under `/v1/`, on Node's own `http` server. Bounded: a body limit (413), a batch limit, a
 * request timeout, header and idle timeouts. Guarded: a bind beyond loopback needs an admin key, which the
 * `devnet_*` methods then want; the paymaster key, when set, guards `paymaster_*` and `/v1`; keys are compared in
 * constant time. Injected faults show as HTTP 503, as 429 with a `Retry-After`, or as a connection closed without
 * an answer, counted by the wire method the client sent.
 */
import * as nodeCrypto from "node:crypto"
import * as http from "node:http"
import { Cause, Duration, Effect, Exit, Fiber, Option, Redacted, Runtime, Schema, type Scope } from "effect"
import type { Paymaster } from "../../Paymaster.js"
import * as stark from "../../internal/crypto/stark.js"
import type { StarknetRpc } from "../../StarknetRpc.js"
import { gatedOnTheWire } from "../faults.js"
import { type Internals, internalsOf } from "../registry.js"
import { Devnet } from "../types.js"
import { adminMethods } from "./admin.js"
import { ShapeScanner } from "./bounds.js"
import type { ExecutionErrorShape } from "./executionError.js"
import { answer, batchTooLarge, Encoded, type Hooks, type Methods, outOfBounds, parseError, Transient, WireError } from "./jsonrpc.js"
import { paymasterMethods } from "./paymaster.js"
import { restRoutes } from "./rest.js"
import { starknetMethods } from "./starknet.js"
import { makeSubscriptions, type SubscriptionLimits } from "./ws.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface ServeOptions {
  /** Default 0: a free port. */
  readonly port?: number
  /** Default `127.0.0.1`. Any address beyond loopback needs `adminKey`. */
  readonly host?: string
  /** When set, `paymaster_*` want it in `x-paymaster-api-key` (else SNIP-29 error 163), and `/v1` routes in `x-api-key` or `x-paymaster-api-key` (else 401). */
  readonly paymasterApiKey?: string | Redacted.Redacted<string>
  /** When set, `devnet_*` want it in `x-devnet-admin-key` (else error -32001). Required to bind beyond loopback. */
  readonly adminKey?: string | Redacted.Redacted<string>
  /** Largest request body, in bytes (default 1 MiB); larger is HTTP 413. */
  readonly maxBodyBytes?: number
  /** Most requests in one JSON-RPC batch (default 1,000); more is one -32600. */
  readonly maxBatch?: number
  /** Longest a request may take (default 30 seconds); then HTTP 503 with -32603. */
  readonly requestTimeout?: Duration.DurationInput
  /** The shape of SNIP-29 error 156's data: `nested` frames (default, as real paymasters), `wrapped` in `execution_error`, or the `flat` reason string. */
  readonly executionErrorShape?: ExecutionErrorShape
  /** The bounds of the WebSocket subscriptions served on the same URL (see `SubscriptionLimits`). */
  readonly subscriptions?: Partial<SubscriptionLimits>
}

/**
 * The server could not start: the options are invalid, the address is taken, or a bind beyond loopback has no
 * admin key.
 *
 * @since 0.1.0
 * @category errors
 */
export class ServeError extends Schema.TaggedError<ServeError>()("DevnetServeError", {
  reason: Schema.Literal("InvalidOptions", "AddressInUse", "Unguarded", "ListenFailed"),
  detail: Schema.String
}) {
  override get message() {
    return this.detail
  }
}

/** Defaults of the limits (documented in docs/devnet.md). */
export const SERVE_DEFAULTS = {
  maxBodyBytes: 1024 * 1024,
  maxBatch: 1000,
  requestTimeout: Duration.seconds(30),
  maxConnections: 100,
  maxSubscriptionsPerConnection: 10_000,
  tickMillis: 5
} as const

/** How long a client may take to send its headers (documented in docs/devnet.md). */
const HEADERS_TIMEOUT_MILLIS = 10_000

const isLoopback = (host: string) => host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host)

/** Equal in constant time whatever the lengths (both sides hashed first). */
const sameKey = (given: string | undefined, expected: string): boolean =>
  given !== undefined &&
  nodeCrypto.timingSafeEqual(
    nodeCrypto.createHash("sha256").update(given).digest(),
    nodeCrypto.createHash("sha256").update(expected).digest()
  )

const header = (req: http.IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** A request target that is a plain path already: no query, fragment, escapes or dot segments to resolve. */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_~-]+)*\/?$/

/** The path of a request's URL; `/` for one that does not parse. */
const pathOf = (req: http.IncomingMessage): string => {
  const target = req.url ?? "/"
  if (target.startsWith("/") && PLAIN_PATH.test(target)) return target
  try {
    return new URL(req.url ?? "/", "http://devnet").pathname
  } catch {
    return "/"
  }
}

const toTransient = (code: number) => new Transient(code)

const secret = (key: string | Redacted.Redacted<string> | undefined): string | undefined =>
  key === undefined ? undefined : Redacted.isRedacted(key) ? Redacted.value(key) : key

/** The options checked, with their defaults. */
interface Settings {
  readonly host: string
  readonly port: number
  readonly maxBodyBytes: number
  readonly maxBatch: number
  readonly timeoutMillis: number
  readonly adminKey: string | undefined
  readonly paymasterApiKey: string | undefined
  readonly subscriptionLimits: SubscriptionLimits
}

const settingsOf = (options: ServeOptions): Effect.Effect<Settings, ServeError> =>
  Effect.gen(function*() {
    const host = options.host ?? "127.0.0.1"
    const port = options.port ?? 0
    const maxBodyBytes = options.maxBodyBytes ?? SERVE_DEFAULTS.maxBodyBytes
    const maxBatch = options.maxBatch ?? SERVE_DEFAULTS.maxBatch
    const timeout = Duration.decodeUnknown(options.requestTimeout ?? SERVE_DEFAULTS.requestTimeout)
    const invalid = (detail: string) => Effect.fail(new ServeError({ reason: "InvalidOptions", detail }))
    if (!Number.isInteger(port) || port < 0 || port > 65535) return yield* invalid(`port must be an integer from 0 to 65535, got ${port}`)
    if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) return yield* invalid(`maxBodyBytes must be a positive integer, got ${maxBodyBytes}`)
    if (!Number.isSafeInteger(maxBatch) || maxBatch < 1) return yield* invalid(`maxBatch must be a positive integer, got ${maxBatch}`)
    if (timeout._tag === "None" || !Duration.isFinite(timeout.value) || Duration.toMillis(timeout.value) <= 0) {
      return yield* invalid("requestTimeout must be a positive finite duration")
    }
    const adminKey = secret(options.adminKey)
    const paymasterApiKey = secret(options.paymasterApiKey)
    if (adminKey === "" || paymasterApiKey === "") return yield* invalid("an empty key guards nothing")
    if (!isLoopback(host) && adminKey === undefined) {
      return yield* new ServeError({
        reason: "Unguarded",
        detail: `refusing to bind ${host} (beyond loopback) without an admin key: anyone who can reach it could mint, create wallets and set faults`
      })
    }
    const subscriptionLimits: SubscriptionLimits = {
      maxConnections: options.subscriptions?.maxConnections ?? SERVE_DEFAULTS.maxConnections,
      maxSubscriptionsPerConnection: options.subscriptions?.maxSubscriptionsPerConnection ?? SERVE_DEFAULTS.maxSubscriptionsPerConnection,
      maxMessageBytes: options.subscriptions?.maxMessageBytes ?? maxBodyBytes,
      tickMillis: options.subscriptions?.tickMillis ?? SERVE_DEFAULTS.tickMillis
    }
    for (const [name, value] of Object.entries(subscriptionLimits)) {
      if (!Number.isSafeInteger(value) || value < 1) return yield* invalid(`subscriptions.${name} must be a positive integer, got ${value}`)
    }
    return { host, port, maxBodyBytes, maxBatch, timeoutMillis: Duration.toMillis(timeout.value), adminKey, paymasterApiKey, subscriptionLimits }
  })

const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  if (res.headersSent || res.destroyed) return
  if (body === undefined) {
    res.writeHead(status, headers).end()
    return
  }
  const text = body instanceof Encoded ? body.json : JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), ...headers }).end(text)
}

/** A transient fault's answer: a dropped connection, a 429 with its `retry-after`, or a 503. */
const answerTransient = (internals: Internals | undefined) => (req: http.IncomingMessage, res: http.ServerResponse, e: Transient) => {
  if (e.status === 0) {
    // A dropped connection: the socket closes and no answer is written.
    req.socket.destroy()
    return
  }
  if (e.status === 429) {
    const retryAfter = internals?.faults.current().retryAfterSeconds ?? 1
    send(res, 429, { message: "Too Many Requests" }, { "retry-after": String(retryAfter) })
    return
  }
  send(res, e.status, { message: "Service Unavailable" })
}

const timedOut = new WireError(-32603, "Internal error: request timed out")

type Served = Devnet | StarknetRpc | Paymaster

/** Runs an answer's Effect, bounded by the request timeout, and writes what it gives. */
const makeRunner = (runtime: Runtime.Runtime<Served>, timeoutMillis: number, internals: Internals | undefined) => {
  const fork = Runtime.runFork(runtime)
  const transient = answerTransient(internals)
  return <A>(req: http.IncomingMessage, res: http.ServerResponse, effect: Effect.Effect<A, Transient, Served>, write: (a: A) => void) => {
    const finish = (exit: Exit.Exit<A, Transient>) => {
      if (Exit.isSuccess(exit)) return write(exit.value)
      if (Exit.isInterrupted(exit)) return
      const failure = Option.getOrUndefined(Cause.failureOption(exit.cause))
      if (failure instanceof Transient) return transient(req, res, failure)
      send(res, 500, { jsonrpc: "2.0", id: null, error: { code: -32603, message: "Internal error" } })
    }
    // An answer known before anything runs (a refusal, most often) needs no fiber.
    if (Exit.isExit(effect)) return finish(effect as Exit.Exit<A, Transient>)
    // A fiber starts at once: most answers (reads of the chain) are done when `fork` returns, and need no timer.
    const fiber = fork(effect)
    const done = fiber.unsafePoll()
    if (done !== null) return finish(done)
    // The timeout is a plain timer (cheaper than a racing fiber per request); it answers, then interrupts the work.
    const timer = setTimeout(() => {
      send(res, 503, { jsonrpc: "2.0", id: null, error: { code: timedOut.code, message: timedOut.message } })
      fork(Fiber.interrupt(fiber))
    }, timeoutMillis)
    // A client that goes away takes its work with it.
    res.on("close", () => {
      clearTimeout(timer)
      if (!res.writableFinished) fork(Fiber.interrupt(fiber))
    })
    fiber.addObserver((exit) => {
      clearTimeout(timer)
      finish(exit)
    })
  }
}

type Runner = ReturnType<typeof makeRunner>

/** Which methods a request may call: `devnet_*` with the admin key, `paymaster_*` with the API key, when set. */
const authorizer = (settings: Settings, avnuErrors: boolean) => (req: http.IncomingMessage) => (name: string): WireError | undefined => {
  const { adminKey, paymasterApiKey } = settings
  if (name.startsWith("devnet_") && adminKey !== undefined && !sameKey(header(req, "x-devnet-admin-key"), adminKey)) {
    return new WireError(-32001, "Unauthorized: devnet_* methods want the admin key in x-devnet-admin-key")
  }
  if (name.startsWith("paymaster_") && paymasterApiKey !== undefined && !sameKey(header(req, "x-paymaster-api-key"), paymasterApiKey)) {
    return new WireError(163, "An error occurred (UNKNOWN_ERROR)", avnuErrors ? "x-paymaster-api-key is invalid" : "missing or invalid x-paymaster-api-key")
  }
  return undefined
}

/** What answering a request needs: the methods and routes, how to run them, the hooks of a JSON-RPC request. */
interface Answering {
  readonly settings: Settings
  readonly methods: Methods
  readonly rest: Effect.Effect.Success<typeof restRoutes>
  readonly run: Runner
  readonly hooksFor: (req: http.IncomingMessage) => Hooks
}

/** A request to a REST route under `/v1/`. */
const answerRest = (at: Answering, req: http.IncomingMessage, res: http.ServerResponse, path: string, text: string, beyond: string | undefined) => {
  const { paymasterApiKey } = at.settings
  if (paymasterApiKey !== undefined && !sameKey(header(req, "x-api-key"), paymasterApiKey) && !sameKey(header(req, "x-paymaster-api-key"), paymasterApiKey)) {
    return send(res, 401, { message: "missing or invalid API key (x-api-key)", code: "UNAUTHORIZED" })
  }
  if (beyond !== undefined) return send(res, 400, { message: `the body is out of bounds: ${beyond}`, code: "INVALID_BODY" })
  let body: unknown
  if (req.method === "POST") {
    try {
      body = JSON.parse(text)
    } catch {
      return send(res, 400, { message: "the body is not JSON", code: "INVALID_JSON" })
    }
  }
  const headers = Object.fromEntries(["x-api-key", "authorization"].map((h) => [h, header(req, h)]))
  return at.run(req, res, at.rest(req.method ?? "GET", path, headers, body), (a) => send(res, a.status, a.body))
}

/** Answers a request whose body is `raw`, or, when its shape went `beyond` the bounds, is refused unread. */
const answerRequest = (at: Answering, req: http.IncomingMessage, res: http.ServerResponse, path: string, raw: Buffer, beyond: string | undefined) => {
  const text = beyond === undefined ? raw.toString("utf8") : ""
  if (path.startsWith("/v1/")) return answerRest(at, req, res, path, text, beyond)
  if (req.method !== "POST") {
    return send(res, 405, { jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid Request: JSON-RPC is POST" } }, { allow: "POST" })
  }
  if (beyond !== undefined) return send(res, 200, outOfBounds(beyond))
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return send(res, 200, parseError)
  }
  at.run(req, res, answer(at.methods, at.hooksFor(req), body), (a) => (a === undefined ? send(res, 204, undefined) : send(res, 200, a)))
}

const tooLarge = (maxBodyBytes: number, req: http.IncomingMessage, res: http.ServerResponse) => {
  send(res, 413, { jsonrpc: "2.0", id: null, error: { code: -32600, message: `Invalid Request: the body is larger than ${maxBodyBytes} bytes` } }, {
    connection: "close"
  })
  // Read no more of it.
  res.on("finish", () => req.destroy())
}

/**
 * Reads a request's body, then answers it. The body's shape (and a JSON-RPC batch's length) is checked as it
 * arrives, before anything parses it: once beyond a bound, the rest is read and dropped, neither kept nor scanned
 * nor parsed.
 */
const receive = (at: Answering, req: http.IncomingMessage, res: http.ServerResponse) => {
  const { maxBatch, maxBodyBytes } = at.settings
  const declared = Number(header(req, "content-length") ?? "0")
  if (Number.isFinite(declared) && declared > maxBodyBytes) return tooLarge(maxBodyBytes, req, res)
  const path = pathOf(req)
  const batches = !path.startsWith("/v1/") && req.method === "POST"
  const scanner = new ShapeScanner()
  const chunks: Array<Buffer> = []
  let size = 0
  let refused = false
  let overBatch = false
  let beyond: string | undefined
  req.on("data", (chunk: Buffer) => {
    if (refused) return
    size += chunk.length
    if (size > maxBodyBytes) {
      refused = true
      chunks.length = 0
      return tooLarge(maxBodyBytes, req, res)
    }
    if (overBatch || beyond !== undefined) return
    beyond = scanner.feed(chunk)
    if (batches && scanner.entries > maxBatch) {
      overBatch = true
      chunks.length = 0
      return
    }
    if (beyond !== undefined) {
      chunks.length = 0
      return
    }
    chunks.push(chunk)
  })
  req.on("end", () => {
    if (refused) return
    if (overBatch) return send(res, 200, batchTooLarge(maxBatch))
    answerRequest(at, req, res, path, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), beyond)
  })
  req.on("error", () => req.destroy())
}

/** Listens until the scope closes; the subscriptions' sockets are closed first, or the server would wait for them. */
const listen = (server: http.Server, settings: Settings, closeSubscriptions: () => void) =>
  Effect.acquireRelease(
    Effect.async<void, ServeError>((resume) => {
      const { host, port } = settings
      const onError = (error: NodeJS.ErrnoException) => {
        resume(Effect.fail(
          error.code === "EADDRINUSE"
            ? new ServeError({ reason: "AddressInUse", detail: `port ${port} on ${host} is already in use` })
            : new ServeError({ reason: "ListenFailed", detail: `cannot listen on ${host}:${port}: ${error.code ?? error.message}` })
        ))
      }
      server.once("error", onError)
      server.listen(port, host, () => {
        server.off("error", onError)
        resume(Effect.void)
      })
    }),
    () =>
      Effect.async<void>((resume) => {
        closeSubscriptions()
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  )

/** The JSON-RPC methods served: the node's, the paymaster's, the devnet's own. */
const methodsOf = (options: ServeOptions, devnet: Devnet["Type"], avnuErrors: boolean) =>
  Effect.gen(function*() {
    const starknet = yield* starknetMethods
    const pm = yield* paymasterMethods({
      executionErrorShape: options.executionErrorShape ?? (avnuErrors ? "avnu" : "nested"),
      relayer: BigInt(devnet.relayer)
    })
    const admin = yield* adminMethods([...Object.keys(starknet), ...Object.keys(pm)])
    const methods: Methods = { ...starknet, ...pm, ...admin }
    return methods
  })

/**
 * Serves the devnet of the current context until the scope closes; answers its URL.
 *
 * @since 0.1.0
 * @category serving
 */
export const serve = (options: ServeOptions = {}): Effect.Effect<
  {
    readonly url: string
    /** The same server's WebSocket URL (`ws://`): the subscriptions, and every method as over HTTP. */
    readonly wsUrl: string
    readonly port: number
    readonly httpRequests: () => number
  },
  ServeError,
  Scope.Scope | Served
> =>
  Effect.gen(function*() {
    const settings = yield* settingsOf(options)
    // Built here, before the server listens, not in the first `devnet_createWallet` while every other client waits.
    stark.precomputeGenerator()
    const devnet = yield* Devnet
    const internals = internalsOf(devnet)
    // The network profile answers as AVNU does (avnu-labs/paymaster `paymaster-rpc`): 156's data as its Debug string,
    // 163's as its messages.
    const avnuErrors = internals?.node.settings.paymasterErrors === "avnu"
    const methods = yield* methodsOf(options, devnet, avnuErrors)
    const runtime = yield* Effect.runtime<Served>()
    const around: Hooks["around"] = internals === undefined
      ? (_, run) => run
      : (name, run) => internals.faults.gate(name, toTransient, internals.node.catchUp, Effect.locally(run, gatedOnTheWire, true))
    const authorize = authorizer(settings, avnuErrors)
    const hooksFor = (req: http.IncomingMessage): Hooks => ({ maxBatch: settings.maxBatch, authorize: authorize(req), around })
    const at: Answering = { settings, methods, rest: yield* restRoutes, run: makeRunner(runtime, settings.timeoutMillis, internals), hooksFor }

    let httpRequests = 0
    // Node's own timeouts bound a client that sends slowly (or never finishes its headers or body): the whole
    // request within `requestTimeout`, its headers within 10 s. Node checks them on an interval (30 s by default,
    // which let a trickle hold a connection up to a minute): checked every second here, so they hold to a second.
    const server = http.createServer({
      requestTimeout: settings.timeoutMillis,
      headersTimeout: Math.min(HEADERS_TIMEOUT_MILLIS, settings.timeoutMillis),
      connectionsCheckingInterval: 1_000,
      keepAliveTimeout: 5_000
    }, (req, res) => {
      httpRequests++
      receive(at, req, res)
    })
    server.on("clientError", (_, socket) => socket.destroy())
    const subscriptions = makeSubscriptions({
      node: internals?.node,
      faults: internals?.faults,
      methods,
      hooksFor,
      limits: settings.subscriptionLimits,
      runtime
    })
    server.on("upgrade", subscriptions.upgrade)

    yield* listen(server, settings, () => subscriptions.close())
    const address = server.address()
    const bound = typeof address === "object" && address !== null ? address.port : settings.port
    const shown = settings.host.includes(":") ? `[${settings.host}]` : settings.host
    return { url: `http://${shown}:${bound}`, wsUrl: `ws://${shown}:${bound}`, port: bound, httpRequests: () => httpRequests }
  })
