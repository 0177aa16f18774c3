/**
 * The devnet's WebSocket subscriptions, on the same server and URL as its JSON-RPC (RPC 0.9, starknet-specs v0.9.0
 * `api/starknet_ws_api.json`): `starknet_subscribeTransactionStatus` (the current status first, then each change),
 * `starknet_subscribeNewHeads`, `starknet_subscribeEvents` (by address, keys, from a block, at `ACCEPTED_ON_L2` or
 * `PRE_CONFIRMED`), `starknet_unsubscribe`, and `starknet_subscriptionReorg` notices when the `reorgBlocks` fault
 * asks for one. Every other method is answered over the socket as over HTTP, under the same keys (read from the
 * upgrade request's headers). Bounded: connections, subscriptions per connection, message size (a larger message
 * closes the socket with 1009), each message's shape as an HTTP body's (checked before it is parsed), and a client
 * that does not read its notifications is cut off.
 *
 * The frames are the `ws` package's (what `@effect/platform-node` serves WebSockets with): loaded when the server
 * starts, so that a devnet without it still serves HTTP.
 */
import type * as http from "node:http"
import { createRequire } from "node:module"
import type { Duplex } from "node:stream"
import { Effect, Either, type Fiber, Runtime, Schema } from "effect"
import { Address, Felt, TxHash } from "../../Schemas.js"
import type { FaultGate } from "../faults.js"
import type { Node } from "../node.js"
import { blockHeader, toBlockId } from "./chain.js"
import { exceeds } from "./bounds.js"
import { answer, Encoded, type Hooks, method, type Method, type Methods, outOfBounds, parseError, WireError } from "./jsonrpc.js"

/** The part of `ws`'s API used here. */
interface WsSocket {
  readonly readyState: number
  readonly bufferedAmount: number
  send(data: string): void
  close(code?: number, reason?: string): void
  terminate(): void
  on(event: "message", listener: (data: Buffer | ArrayBuffer | Array<Buffer>, isBinary: boolean) => void): void
  on(event: "close" | "error", listener: () => void): void
}
interface WsServer {
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, done: (ws: WsSocket) => void): void
  close(): void
}
interface WsModule {
  readonly WebSocketServer: new(options: { readonly noServer: true; readonly maxPayload: number; readonly clientTracking: boolean }) => WsServer
}

/** `ws`, as `@effect/platform-node` depends on it; `undefined` when it is not installed. */
const loadWs = (): WsModule | undefined => {
  const require = createRequire(import.meta.url)
  const attempts: ReadonlyArray<() => WsModule> = [
    () => require("ws") as WsModule,
    // Installed under @effect/platform-node's own dependencies only (a strict node_modules layout).
    () => createRequire(createRequire(require.resolve("@effect/platform-node")).resolve("@effect/platform-node-shared"))("ws") as WsModule
  ]
  for (const attempt of attempts) {
    try {
      return attempt()
    } catch {
      // the next place
    }
  }
  return undefined
}

/**
 * @since 0.2.0
 * @category models
 */
export interface SubscriptionLimits {
  /** Open WebSocket connections at once (default 100); one more is refused with HTTP 503. */
  readonly maxConnections: number
  /** Subscriptions one connection may hold (default 10,000); one more is refused with -32005. */
  readonly maxSubscriptionsPerConnection: number
  /** Largest message a client may send, in bytes (default: the HTTP body limit); larger closes the socket (1009). */
  readonly maxMessageBytes: number
  /** How often the chain is looked at while anyone subscribes (default 5 ms), besides at each change it makes. */
  readonly tickMillis: number
}

/** A client that leaves this many bytes of notifications unread is cut off. */
const MAX_UNREAD_BYTES = 16 * 1024 * 1024
/** `starknet_subscribeNewHeads` and `starknet_subscribeEvents` reach at most this many blocks back (error 68). */
const MAX_BLOCKS_BACK = 1024

type Subscription =
  | { readonly kind: "status"; readonly id: string; readonly hash: bigint; last: string | undefined }
  | { readonly kind: "heads"; readonly id: string; next: number }
  | {
    readonly kind: "events"
    readonly id: string
    next: number
    readonly addresses: ReadonlySet<bigint> | undefined
    readonly keys: ReadonlyArray<ReadonlySet<bigint>> | undefined
    readonly preConfirmed: boolean
    /** Pre-confirmed transactions whose events were sent (they are sent again when their block closes). */
    readonly sentPre: Set<bigint>
  }

interface Connection {
  readonly socket: WsSocket
  /** The upgraded TCP socket under `socket`: corked while one turn's messages are written (see `sendTo`). */
  readonly raw: Duplex
  corked: boolean
  readonly subscriptions: Map<string, Subscription>
}

const hex = (v: bigint) => "0x" + v.toString(16)

const uncork = (c: Connection) => {
  c.corked = false
  c.raw.uncork()
}

const SubscriptionBlockId = Schema.Union(
  Schema.Literal("latest"),
  Schema.Struct({ block_number: Schema.Int.pipe(Schema.nonNegative()) }),
  Schema.Struct({ block_hash: Felt })
)
const StatusParams = Schema.Struct({ transaction_hash: TxHash })
const HeadsParams = Schema.Struct({ block_id: Schema.optional(SubscriptionBlockId) })
const EventsParams = Schema.Struct({
  // One address in 0.9; a list in 0.10 (what starknet.js 10 may send): both are read.
  from_address: Schema.optional(Schema.Union(Address, Schema.Array(Address))),
  keys: Schema.optional(Schema.Array(Schema.Array(Felt))),
  block_id: Schema.optional(SubscriptionBlockId),
  finality_status: Schema.optional(Schema.Literal("ACCEPTED_ON_L2", "PRE_CONFIRMED"))
})
const UnsubscribeParams = Schema.Struct({ subscription_id: Schema.Union(Schema.String, Schema.Number) })

/** The subscription methods' params: by name, or positional in these orders (the run is done by the server). */
const subscriptionMethods: Record<string, Method> = {
  starknet_subscribeTransactionStatus: method(["transaction_hash"], StatusParams, () => Effect.void),
  starknet_subscribeNewHeads: method(["block_id"], HeadsParams, () => Effect.void),
  starknet_subscribeEvents: method(["from_address", "keys", "block_id", "finality_status"], EventsParams, () => Effect.void),
  starknet_unsubscribe: method(["subscription_id"], UnsubscribeParams, () => Effect.void)
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

export interface Subscriptions {
  /** Hands an HTTP upgrade request to the WebSocket server (or refuses it). */
  readonly upgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void
  /** Closes every connection and stops looking at the chain. */
  readonly close: () => void
  readonly connections: () => number
}

interface Options<R> {
  readonly node: Node | undefined
  readonly faults: FaultGate | undefined
  readonly methods: Methods
  readonly hooksFor: (req: http.IncomingMessage) => Hooks
  readonly limits: SubscriptionLimits
  readonly runtime: Runtime.Runtime<R>
}

/** What the connections and the looks at the chain share. */
interface State<R> {
  readonly options: Options<R>
  readonly fork: <A, E>(effect: Effect.Effect<A, E, R>) => Fiber.RuntimeFiber<A, E>
  readonly runSync: <A, E>(effect: Effect.Effect<A, E, R>) => A
  readonly server: WsServer | undefined
  readonly connections: Set<Connection>
  nextId: number
  timer: ReturnType<typeof setInterval> | undefined
  /** What the chain looked like at the last look: nothing is recomputed until it changes. */
  lastKey: string
  /** Subscriptions made since the last look, to be brought up to date even if the chain did not change. */
  fresh: Array<readonly [Connection, Subscription]>
  tickQueued: boolean
  /** `tick` bound to this state, for the timers. */
  readonly tick: () => void
  /** A look as soon as this turn's work is done: the chain changed (`Chain.onChange`). */
  readonly soon: () => void
}

const refuse = (socket: Duplex, status: number, text: string) => {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
  socket.destroy()
}

const sendTo = (c: Connection, message: unknown) => {
  if (c.socket.readyState !== 1) return
  if (c.socket.bufferedAmount > MAX_UNREAD_BYTES) {
    c.socket.terminate()
    return
  }
  // The messages of one turn (a tick's notifications, the answers to a burst of requests) leave in one write,
  // not a write each: the socket is corked at the first and uncorked once the turn's synchronous work is done.
  if (!c.corked) {
    c.corked = true
    c.raw.cork()
    process.nextTick(uncork, c)
  }
  c.socket.send(message instanceof Encoded ? message.json : JSON.stringify(message))
}
const notify = (c: Connection, name: string, subscriptionId: string, result: unknown) =>
  sendTo(c, { jsonrpc: "2.0", method: name, params: { subscription_id: subscriptionId, result } })

const total = (state: State<any>) => {
  let n = 0
  for (const c of state.connections) n += c.subscriptions.size
  return n
}
const startTicking = (state: State<any>, c: Connection, s: Subscription) => {
  state.fresh.push([c, s])
  if (state.timer === undefined) {
    state.timer = setInterval(state.tick, state.options.limits.tickMillis)
    state.timer.unref?.()
    state.options.node?.chain.onChange.add(state.soon)
  }
  // Brought up to date at once (the current status is the first notification), once for all the subscriptions
  // asked in this turn.
  state.soon()
}
const stopTickingIfIdle = (state: State<any>) => {
  if (state.timer !== undefined && total(state) === 0) {
    clearInterval(state.timer)
    state.options.node?.chain.onChange.delete(state.soon)
    state.timer = undefined
  }
}

// -- what each kind of subscription is sent ------------------------------------------------------------------------

const statusOf = (node: Node, hash: bigint) => {
  const tx = node.chain.txs.get(hash)
  if (tx === undefined || tx.rejected !== undefined) return undefined
  const s = node.statusOf(tx)
  return {
    finality_status: s.finalityStatus,
    ...(s.executionStatus !== undefined ? { execution_status: s.executionStatus } : {}),
    ...(s.revertReason !== undefined ? { failure_reason: s.revertReason } : {})
  }
}
const headerOf = (node: Node, n: number) => {
  const b = node.block({ blockNumber: n })
  return b === undefined ? undefined : blockHeader(b)
}
type EventsSubscription = Extract<Subscription, { kind: "events" }>
const matches = (s: EventsSubscription, e: { readonly fromAddress: bigint; readonly keys: ReadonlyArray<bigint> }) =>
  (s.addresses === undefined || s.addresses.has(e.fromAddress)) &&
  (s.keys === undefined || s.keys.every((set, i) => set.size === 0 || (e.keys[i] !== undefined && set.has(e.keys[i]!))))

const sendStatus = (node: Node, c: Connection, s: Extract<Subscription, { kind: "status" }>) => {
  const status = statusOf(node, s.hash)
  if (status === undefined) return
  const key = `${status.finality_status}:${status.execution_status ?? ""}`
  if (key === s.last) return
  s.last = key
  notify(c, "starknet_subscriptionTransactionStatus", s.id, { transaction_hash: hex(s.hash), status })
}

const sendHeads = (node: Node, c: Connection, s: Extract<Subscription, { kind: "heads" }>) => {
  for (const readBlock = node.readBlock(); s.next <= readBlock; s.next++) {
    const header = headerOf(node, s.next)
    if (header !== undefined) notify(c, "starknet_subscriptionNewHeads", s.id, header)
  }
}

/** An event as `starknet_subscriptionEvents` carries it (RPC 0.9 EMITTED_EVENT; no block hash before the block closes). */
const emitted = (
  e: { readonly fromAddress: bigint; readonly keys: ReadonlyArray<bigint>; readonly data: ReadonlyArray<bigint> },
  txHash: bigint,
  blockNumber: number,
  finality: "ACCEPTED_ON_L2" | "PRE_CONFIRMED",
  blockHash?: bigint
) => ({
  from_address: hex(e.fromAddress),
  keys: e.keys.map(hex),
  data: e.data.map(hex),
  ...(blockHash === undefined ? {} : { block_hash: hex(blockHash) }),
  block_number: blockNumber,
  transaction_hash: hex(txHash),
  finality_status: finality
})

/** The events of the closed blocks not sent yet, then (asked for) those of the pre-confirmed block not sent yet. */
const sendEvents = (node: Node, c: Connection, s: EventsSubscription) => {
  const readBlock = node.readBlock()
  if (s.next <= readBlock) {
    for (const b of node.chain.blocks.withTransactions(s.next, readBlock)) {
      for (const tx of b.transactions) {
        s.sentPre.delete(tx.hash)
        for (const e of tx.events) {
          if (matches(s, e)) notify(c, "starknet_subscriptionEvents", s.id, emitted(e, tx.hash, b.number, "ACCEPTED_ON_L2", b.hash))
        }
      }
    }
    s.next = readBlock + 1
  }
  if (!s.preConfirmed) return
  const pre = node.preConfirmed()
  if (pre === undefined) return
  for (const [tx, outcome] of pre.outcomes) {
    if (s.sentPre.has(tx.hash)) continue
    s.sentPre.add(tx.hash)
    for (const e of outcome.events) {
      if (matches(s, e)) notify(c, "starknet_subscriptionEvents", s.id, emitted(e, tx.hash, pre.number, "PRE_CONFIRMED"))
    }
  }
}

const bringUpToDate = (node: Node, c: Connection, s: Subscription) =>
  s.kind === "status" ? sendStatus(node, c, s) : s.kind === "heads" ? sendHeads(node, c, s) : sendEvents(node, c, s)

/** The fault `reorgBlocks`: the last blocks announced orphaned, once; then what each subscription watches is sent again from there. */
const reorg = (state: State<any>, node: Node, blocks: number) => {
  const ending = node.readBlock()
  const starting = Math.max(1, ending - blocks + 1)
  const first = node.block({ blockNumber: starting })
  const last = node.block({ blockNumber: ending })
  if (first === undefined || last === undefined || ending < 1) return
  const data = {
    starting_block_hash: first.blockHash,
    starting_block_number: starting,
    ending_block_hash: last.blockHash,
    ending_block_number: ending
  }
  for (const c of state.connections) {
    for (const s of c.subscriptions.values()) {
      notify(c, "starknet_subscriptionReorg", s.id, data)
      if (s.kind === "status") s.last = undefined
      else s.next = Math.min(s.next, starting)
    }
  }
}

/** A look at the chain: every subscription brought up to date if it changed, else only the new ones. */
const tick = <R>(state: State<R>) => {
  const { faults, node } = state.options
  state.tickQueued = false
  if (node === undefined || state.connections.size === 0) return
  // Blocks close as the clock passes: the look makes the node catch up first.
  state.runSync(node.catchUp as Effect.Effect<void, never, R>)
  const reorgBlocks = faults?.current().reorgBlocks ?? 0
  if (reorgBlocks > 0) {
    faults!.merge({ reorgBlocks: 0 })
    reorg(state, node, reorgBlocks)
    state.lastKey = ""
  }
  const key = `${node.chain.latest.number}:${node.chain.txs.size}:${node.readBlock()}:${node.chain.pending.length}`
  const newOnes = state.fresh
  state.fresh = []
  if (key === state.lastKey) {
    // Nothing changed: only the new subscriptions hear the present.
    for (const [c, s] of newOnes) if (c.subscriptions.get(s.id) === s) bringUpToDate(node, c, s)
    return
  }
  state.lastKey = key
  for (const c of state.connections) for (const s of c.subscriptions.values()) bringUpToDate(node, c, s)
}

// -- the methods ---------------------------------------------------------------------------------------------------

const fromBlock = (node: Node, id: typeof SubscriptionBlockId.Type | undefined): Either.Either<number, WireError> => {
  const latest = node.readBlock()
  if (id === undefined || id === "latest") return Either.right(latest + 1)
  const n = node.blockNumberOf(toBlockId(id))
  if (n === undefined) return Either.left(new WireError(24, "Block not found"))
  if (latest - n > MAX_BLOCKS_BACK) return Either.left(new WireError(68, "Cannot go back more than 1024 blocks"))
  return Either.right(n)
}

/** The subscription a method asks for, with its id (or the error to answer). */
const newSubscription = (node: Node, id: string, name: string, params: any): Either.Either<Subscription, WireError> => {
  if (name === "starknet_subscribeTransactionStatus") return Either.right({ kind: "status", id, hash: BigInt(params.transaction_hash), last: undefined })
  const from = fromBlock(node, params.block_id)
  if (Either.isLeft(from)) return Either.left(from.left)
  // From `latest`: the latest block's header first, as nodes send it.
  if (name === "starknet_subscribeNewHeads") {
    return Either.right({ kind: "heads", id, next: params.block_id === undefined || params.block_id === "latest" ? from.right - 1 : from.right })
  }
  const addresses = params.from_address === undefined
    ? undefined
    : new Set<bigint>((Array.isArray(params.from_address) ? params.from_address : [params.from_address]).map(BigInt))
  return Either.right({
    kind: "events",
    id,
    next: from.right,
    addresses,
    keys: params.keys?.map((alternatives: ReadonlyArray<string>) => new Set(alternatives.map(BigInt))),
    preConfirmed: params.finality_status === "PRE_CONFIRMED",
    sentPre: new Set()
  })
}

const subscribe = (state: State<any>, node: Node, c: Connection, name: string, params: any): Either.Either<unknown, WireError> => {
  const { limits } = state.options
  if (name === "starknet_unsubscribe") {
    const id = String(params.subscription_id)
    if (!c.subscriptions.delete(id)) return Either.left(new WireError(66, "Invalid subscription id"))
    stopTickingIfIdle(state)
    return Either.right(true)
  }
  if (c.subscriptions.size >= limits.maxSubscriptionsPerConnection) {
    return Either.left(new WireError(-32005, `Limit exceeded: at most ${limits.maxSubscriptionsPerConnection} subscriptions per connection`))
  }
  const made = newSubscription(node, String(++state.nextId), name, params)
  if (Either.isLeft(made)) return made
  c.subscriptions.set(made.right.id, made.right)
  startTicking(state, c, made.right)
  return Either.right(made.right.id)
}

/** Everything but the subscription methods, answered as over HTTP (without a node, those too: -32601). */
const answerAsOverHttp = <R>(state: State<R>, c: Connection, hooks: Hooks, body: unknown) => {
  const fiber = state.fork(answer(state.options.methods, hooks, body) as Effect.Effect<unknown, unknown, R>)
  fiber.addObserver((exit) => {
    if (exit._tag === "Success" && exit.value !== undefined) sendTo(c, exit.value)
    // A transient fault of the exchange (an injected drop) closes the connection, as over HTTP.
    if (exit._tag === "Failure") c.socket.terminate()
  })
}

const onMessage = <R>(state: State<R>, c: Connection, hooks: Hooks, bytes: Buffer) => {
  // Bounded before anything parses or decodes it, as over HTTP.
  const beyond = exceeds(bytes)
  if (beyond !== undefined) return sendTo(c, outOfBounds(beyond))
  let body: unknown
  try {
    body = JSON.parse(bytes.toString("utf8"))
  } catch {
    return sendTo(c, parseError)
  }
  const node = state.options.node
  const name = isRecord(body) && typeof body["method"] === "string" ? body["method"] : undefined
  const sub = name !== undefined && Object.hasOwn(subscriptionMethods, name) ? subscriptionMethods[name] : undefined
  if (sub === undefined || node === undefined || !isRecord(body)) return answerAsOverHttp(state, c, hooks, body)
  const id = body["id"] ?? null
  const raw = body["params"]
  const named = raw === undefined
    ? {}
    : Array.isArray(raw)
    ? Object.fromEntries(raw.map((v, i) => [sub.names[i] ?? String(i), v]))
    : isRecord(raw)
    ? raw
    : undefined
  const decoded = named === undefined
    ? Either.left(new WireError(-32602, "Invalid params: params must be an array or an object"))
    : sub.decode(named)
  const result = Either.flatMap(decoded, (params) => subscribe(state, node, c, name!, params))
  if (!("id" in body)) return
  sendTo(
    c,
    Either.isRight(result)
      ? { jsonrpc: "2.0", id, result: result.right }
      : { jsonrpc: "2.0", id, error: { code: result.left.code, message: result.left.message, ...(result.left.data !== undefined ? { data: result.left.data } : {}) } }
  )
}

const upgrade = <R>(state: State<R>) => (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
  socket.on("error", () => socket.destroy())
  if (state.server === undefined) return refuse(socket, 501, "Not Implemented")
  if ((req.url ?? "/").startsWith("/v1/")) return refuse(socket, 404, "Not Found")
  if (state.connections.size >= state.options.limits.maxConnections) return refuse(socket, 503, "Service Unavailable")
  const hooks = state.options.hooksFor(req)
  state.server.handleUpgrade(req, socket, head, (ws) => {
    const c: Connection = { socket: ws, raw: socket, corked: false, subscriptions: new Map() }
    state.connections.add(c)
    ws.on("message", (data, isBinary) => {
      if (isBinary) return ws.close(1003, "text frames only")
      onMessage(state, c, hooks, Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data))
    })
    const gone = () => {
      state.connections.delete(c)
      c.subscriptions.clear()
      stopTickingIfIdle(state)
    }
    ws.on("close", gone)
    ws.on("error", gone)
  })
}

/**
 * The subscriptions of a served devnet's node. `hooksFor` gives the keys' rules of an upgrade request, for the
 * methods answered as over HTTP.
 */
export const makeSubscriptions = <R>(options: Options<R>): Subscriptions => {
  const ws = loadWs()
  const state: State<R> = {
    options,
    fork: Runtime.runFork(options.runtime),
    runSync: Runtime.runSync(options.runtime),
    server: ws === undefined ? undefined : new ws.WebSocketServer({ noServer: true, maxPayload: options.limits.maxMessageBytes, clientTracking: false }),
    connections: new Set(),
    nextId: 0,
    timer: undefined,
    lastKey: "",
    fresh: [],
    tickQueued: false,
    tick: () => tick(state),
    soon: () => {
      if (state.tickQueued) return
      state.tickQueued = true
      setImmediate(state.tick)
    }
  }
  return {
    upgrade: upgrade(state),
    close: () => {
      if (state.timer !== undefined) clearInterval(state.timer)
      state.options.node?.chain.onChange.delete(state.soon)
      state.timer = undefined
      for (const c of state.connections) c.socket.terminate()
      state.connections.clear()
      state.server?.close()
    },
    connections: () => state.connections.size
  }
}
