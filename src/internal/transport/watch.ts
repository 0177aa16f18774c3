/**
 * Watching transactions and heads over one WebSocket connection (RPC 0.9, starknet-specs v0.9.0
 * `api/starknet_ws_api.json`): one `starknet_subscribeTransactionStatus` per watched hash, however many waits watch
 * it, and one `starknet_subscribeNewHeads` once the latest block is asked for, all on one connection. The connection
 * is kept by a fiber of the layer's scope: when it closes (or misses a heartbeat) every watch hears `Down` (its wait
 * polls meanwhile) and the latest block is read over HTTP again; the connection is made again on a `Schedule`, each
 * hash is subscribed again and its watches hear `Up`, then the node's current status. Frames are `@effect/platform`'s
 * `Socket` over the WebSocket implementation (which answers protocol pings).
 *
 * A notification is handled where it is read: decoded, and offered to its watches' inboxes, with no fiber of its
 * own; the waiters are woken together after the read (see `Waker`); requests are written straight to the open
 * WebSocket. A status change then costs its waiter one wake-up.
 */
import * as Socket from "@effect/platform/Socket"
import { type Duration, Effect, Option, Schedule, Schema, type Scope } from "effect"
import { RpcError } from "../../Errors.js"
import * as Schemas from "../../Schemas.js"
import type { TransactionStatus, TxHash } from "../../Schemas.js"
import type { BlockInfo, TransactionWatch, WatchEvent } from "../../StarknetRpc.js"
import { revertReasonOf } from "./reason.js"

export interface WatchOptions {
  readonly url: string
  readonly reconnect: Schedule.Schedule<unknown, unknown>
  readonly heartbeat: Duration.Duration
  readonly requestTimeout: Duration.Duration
  /** Called on each reconnection after the first connection (for the metrics). */
  readonly onReconnect?: Effect.Effect<void>
}

export interface Watcher {
  /** Subscribes a hash for as long as the scope lasts (one subscription per hash, shared by its watches). */
  readonly watch: (txHash: TxHash) => Effect.Effect<TransactionWatch, never, Scope.Scope>
  /**
   * The newest block header heard on the heads subscription; `undefined` while there is none (not asked for
   * before, not connected, or just reorganised): then read it over HTTP. The first call subscribes.
   */
  readonly latestHead: () => BlockInfo | undefined
  readonly connected: () => boolean
  /**
   * Sends one JSON-RPC request over the open connection: its response object (`result` or `error`, as the node
   * sent it), or `None` when the connection cannot carry it (not open, closed before the answer, no answer within
   * the request timeout), for the caller to send it another way.
   */
  readonly carry: (method: string, params: unknown) => Effect.Effect<Option.Option<unknown>>
}

/**
 * A status notification's `result`: `NEW_TXN_STATUS` (`{ transaction_hash, status: TXN_STATUS_RESULT }`). The hash
 * is the subscription's own (found by its id), so only the status is decoded.
 */
const NewTxnStatus = Schema.Struct({
  status: Schema.Struct({
    finality_status: Schemas.FinalityStatus,
    execution_status: Schema.optional(Schemas.ExecutionStatus),
    failure_reason: Schema.optional(Schema.String)
  })
})
const decodeStatus = Schema.decodeUnknownOption(NewTxnStatus)

/** A heads notification's `result`: `BLOCK_HEADER`, of which the number and timestamp are read. */
const BlockHeader = Schema.Struct({ block_number: Schema.Int.pipe(Schema.nonNegative()), timestamp: Schema.Int.pipe(Schema.nonNegative()) })
const decodeHeader = Schema.decodeUnknownOption(BlockHeader)

/** The next turn of the event loop, after the I/O read in this one. */
const nextTurn: (f: () => void) => void = typeof setImmediate === "function" ? (f) => setImmediate(f) : (f) => setTimeout(f, 0)

/**
 * Wakes the takers of the inboxes offered to in one turn together, once the turn's reading is done: a burst of
 * notifications (one status change of a thousand watched transactions) is read and decoded whole before any waiter
 * runs, so that no notification waits behind the work of the waiters woken before it.
 */
class Waker {
  private ready: Array<Inbox<any>> = []
  schedule(inbox: Inbox<any>): void {
    if (this.ready.push(inbox) === 1) nextTurn(this.wake)
  }
  private readonly wake = () => {
    const ready = this.ready
    this.ready = []
    for (const inbox of ready) inbox.deliver()
  }
}

/**
 * The events of one watch, in order, for whoever takes them: what is offered before anyone waits is kept. Lighter
 * than a `Queue` (no taker `Deferred`, no strategy): a waiting taker is resumed directly, by the `Waker`.
 */
class Inbox<A> {
  private readonly buffer: Array<A> = []
  private readonly takers: Array<(effect: Effect.Effect<A>) => void> = []
  private scheduled = false
  constructor(private readonly waker: Waker) {}
  offer(a: A): void {
    this.buffer.push(a)
    if (this.takers.length > 0 && !this.scheduled) {
      this.scheduled = true
      this.waker.schedule(this)
    }
  }
  deliver(): void {
    this.scheduled = false
    while (this.takers.length > 0 && this.buffer.length > 0) this.takers.shift()!(Effect.succeed(this.buffer.shift()!))
  }
  readonly take: Effect.Effect<A> = Effect.suspend(() =>
    this.buffer.length > 0 ? Effect.succeed(this.buffer.shift()!) : Effect.async<A>((resume) => {
      this.takers.push(resume)
      return Effect.sync(() => {
        const i = this.takers.indexOf(resume)
        if (i >= 0) this.takers.splice(i, 1)
      })
    })
  )
}

interface Watched {
  readonly inboxes: Set<Inbox<WatchEvent>>
  subscriptionId: string | undefined
  /** The last status heard on the subscription, for a watch that joins it later. */
  last: TransactionStatus | undefined
}

type Answer = {
  readonly result?: unknown
  readonly error?: { readonly code: number; readonly message: string; readonly data?: unknown }
} | "closed"
/** What to do with a notification of one subscription (`method` is the notification's). */
type OnNotification = (method: unknown, result: unknown) => void

/** Everything the connection and its watches share. */
interface State {
  readonly options: WatchOptions
  readonly watched: Map<string, Watched>
  readonly bySubscription: Map<string, OnNotification>
  /** Subscriptions ended in this turn, to be unsubscribed in the next (see `unsubscribe`). */
  readonly unsubscribing: Array<string>
  readonly pending: Map<number, (answer: Answer) => void>
  readonly waker: Waker
  nextId: number
  /** The open WebSocket, or `undefined` while there is none. */
  socket: globalThis.WebSocket | undefined
  connections: number
  // "connecting" only until the first attempt ends: a watch made meanwhile waits for it rather than polling.
  phase: "connecting" | "up" | "down"
  readonly heads: { wanted: boolean; subscriptionId: string | undefined; latest: BlockInfo | undefined }
}

const isRecord = (u: unknown): u is Record<string, any> => typeof u === "object" && u !== null && !Array.isArray(u)

const emit = (w: Watched, event: WatchEvent) => {
  for (const inbox of w.inboxes) inbox.offer(event)
}

/**
 * Sends a request; `onAnswer` runs where the answer is read, before any later message is handled. Returns the
 * request's id (`undefined` when there is no connection: then it was answered "closed" already).
 */
const send = (state: State, method: string, params: unknown, onAnswer: (answer: Answer) => void): number | undefined => {
  const socket = state.socket
  if (socket === undefined) {
    onAnswer("closed")
    return undefined
  }
  const id = ++state.nextId
  state.pending.set(id, onAnswer)
  try {
    socket.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }))
  } catch {
    // Closing: the close handler answers every pending request.
  }
  return id
}

/**
 * Ends a subscription: nothing more is heard on it at once; the request leaves with the others of this turn, in the
 * next one (a thousand waits ending together do not each write before the next one hears its status).
 */
const unsubscribe = (state: State, subscriptionId: string) => {
  state.bySubscription.delete(subscriptionId)
  if (state.unsubscribing.push(subscriptionId) === 1) {
    nextTurn(() => {
      const ids = state.unsubscribing.splice(0)
      for (const id of ids) send(state, "starknet_unsubscribe", { subscription_id: id }, () => {})
    })
  }
}

/** The wire status as the library's `TransactionStatus`. */
const toStatus = (s: typeof NewTxnStatus.Type["status"]): TransactionStatus => ({
  finalityStatus: s.finality_status,
  ...(s.execution_status !== undefined ? { executionStatus: s.execution_status } : {}),
  ...(s.failure_reason !== undefined ? { revertReason: revertReasonOf(s.failure_reason) ?? s.failure_reason } : {})
})

/** A watched hash's notifications: each status to its watches; a reorganisation voids what was heard. */
const onStatusNotification = (w: Watched): OnNotification => (method, result) => {
  if (method === "starknet_subscriptionTransactionStatus") {
    const decoded = decodeStatus(result)
    if (decoded._tag === "None") return
    const status = toStatus(decoded.value.status)
    w.last = status
    emit(w, { _tag: "Status", status })
  } else if (method === "starknet_subscriptionReorg") {
    w.last = undefined
    emit(w, { _tag: "Reorg" })
  }
}

const subscribeHash = (state: State, hash: string, w: Watched) =>
  send(state, "starknet_subscribeTransactionStatus", { transaction_hash: hash }, (answer) => {
    // The watch may have ended while the request was on the wire.
    if (state.watched.get(hash) !== w) {
      if (answer !== "closed" && typeof answer.result === "string") send(state, "starknet_unsubscribe", { subscription_id: answer.result }, () => {})
      return
    }
    if (answer === "closed" || answer.error !== undefined || typeof answer.result !== "string") {
      emit(w, { _tag: "Down" })
      return
    }
    w.subscriptionId = answer.result
    state.bySubscription.set(answer.result, onStatusNotification(w))
    emit(w, { _tag: "Up" })
  })

/**
 * The heads: each header is the latest block (in order; after a reorganisation notice none is until the node sends
 * the headers again).
 */
const onHeadsNotification = (state: State): OnNotification => (method, result) => {
  if (method === "starknet_subscriptionNewHeads") {
    const decoded = decodeHeader(result)
    if (decoded._tag === "None") return
    const { block_number, timestamp } = decoded.value
    const latest = state.heads.latest
    if (latest === undefined || block_number >= latest.blockNumber) state.heads.latest = { blockNumber: block_number, timestamp }
  } else if (method === "starknet_subscriptionReorg") {
    state.heads.latest = undefined
  }
}

const subscribeHeads = (state: State) =>
  send(state, "starknet_subscribeNewHeads", {}, (answer) => {
    if (answer === "closed" || answer.error !== undefined || typeof answer.result !== "string") return
    state.heads.subscriptionId = answer.result
    state.bySubscription.set(answer.result, onHeadsNotification(state))
  })

const onMessage = (state: State) => (data: string | Uint8Array) => {
  let message: unknown
  try {
    message = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data))
  } catch {
    return
  }
  if (!isRecord(message)) return
  if (typeof message["id"] === "number" && ("result" in message || "error" in message)) {
    const onAnswer = state.pending.get(message["id"])
    if (onAnswer !== undefined) {
      state.pending.delete(message["id"])
      onAnswer(message as Answer)
    }
    return
  }
  const params = message["params"]
  if (!isRecord(params)) return
  state.bySubscription.get(String(params["subscription_id"]))?.(message["method"], params["result"])
}

/** The connection is gone: every pending request fails, every watch hears `Down`, the heads are unknown. */
const closed = (state: State) => {
  state.phase = "down"
  state.socket = undefined
  for (const onAnswer of state.pending.values()) onAnswer("closed")
  state.pending.clear()
  state.bySubscription.clear()
  // The connection's subscriptions are gone with it.
  state.unsubscribing.length = 0
  state.heads.subscriptionId = undefined
  state.heads.latest = undefined
  for (const w of state.watched.values()) {
    w.subscriptionId = undefined
    w.last = undefined
    emit(w, { _tag: "Down" })
  }
}

/**
 * One request over the connection, answered where the answer is read: the node's response object, `"closed"` when
 * there is no connection or it closed first, `"timeout"` after the request timeout (the request is forgotten then).
 */
const ask = (state: State, method: string, params: unknown): Effect.Effect<Answer | "timeout"> =>
  Effect.async<Answer | "timeout">((resume) => {
    const id = send(state, method, params, (answer) => resume(Effect.succeed(answer)))
    return Effect.sync(() => {
      if (id !== undefined) state.pending.delete(id)
    })
  }).pipe(Effect.timeoutTo({ duration: state.options.requestTimeout, onSuccess: (answer) => answer, onTimeout: () => "timeout" as const }))

/** A request answered within the request timeout, else a transient `RpcError`. */
const request = (state: State, method: string, params: unknown) =>
  Effect.flatMap(ask(state, method, params), (answer) =>
    answer === "closed"
      ? Effect.fail(new RpcError({ method, code: 0, message: "the WebSocket connection closed", transient: true }))
      : answer === "timeout"
      ? Effect.fail(new RpcError({ method, code: 0, message: "no answer over the WebSocket connection", transient: true }))
      : answer.error !== undefined
      ? Effect.fail(new RpcError({ method, code: answer.error.code, message: answer.error.message, transient: false }))
      : Effect.succeed(answer.result))

/** See `Watcher.carry`. */
const carry = (state: State) => (method: string, params: unknown): Effect.Effect<Option.Option<unknown>> =>
  Effect.suspend(() =>
    state.phase !== "up"
      ? Effect.succeedNone
      : Effect.map(ask(state, method, params), (answer) => (answer === "closed" || answer === "timeout" ? Option.none() : Option.some(answer)))
  )

/** One connection, from opening to closing: subscribes what is watched once open; a heartbeat finds a dead route. */
const connectOnce = (state: State) =>
  Effect.scoped(
    Effect.gen(function*() {
      let opened: globalThis.WebSocket | undefined
      const socket = yield* Socket.fromWebSocket(
        Effect.acquireRelease(
          Effect.map(Socket.WebSocketConstructor, (make) => (opened = make(state.options.url))),
          (ws) => Effect.sync(() => ws.close(1000))
        ),
        { openTimeout: state.options.requestTimeout }
      )
      const onOpen = Effect.suspend(() => {
        state.phase = "up"
        state.socket = opened
        for (const [hash, w] of state.watched) subscribeHash(state, hash, w)
        if (state.heads.wanted) subscribeHeads(state)
        return state.connections++ > 0 && state.options.onReconnect !== undefined ? state.options.onReconnect : Effect.void
      })
      // A node that stops answering without closing (a dead route) is found by a heartbeat request.
      const heartbeat = request(state, "starknet_specVersion", []).pipe(Effect.delay(state.options.heartbeat), Effect.forever)
      yield* Effect.raceFirst(socket.runRaw(onMessage(state), { onOpen }), heartbeat)
    })
  ).pipe(
    Effect.ensuring(Effect.sync(() => closed(state))),
    Effect.exit
  )

/** A watch joins the hash's subscription (made if it is the first), and hears where it stands. */
const join = (state: State, hash: string, inbox: Inbox<WatchEvent>) => {
  let w = state.watched.get(hash)
  if (w === undefined) {
    w = { inboxes: new Set([inbox]), subscriptionId: undefined, last: undefined }
    state.watched.set(hash, w)
    // Not connected: heard as down (the wait polls) until the connection is back.
    if (state.phase === "down") inbox.offer({ _tag: "Down" })
    else if (state.phase === "up") subscribeHash(state, hash, w)
    return
  }
  w.inboxes.add(inbox)
  if (w.subscriptionId !== undefined) {
    // Joins a subscription already up: the node sent its current status to the first watch only.
    inbox.offer({ _tag: "Up" })
    if (w.last !== undefined) inbox.offer({ _tag: "Status", status: w.last })
  } else if (state.phase === "down") inbox.offer({ _tag: "Down" })
}

/** A watch leaves; the last one out unsubscribes. */
const leave = (state: State, hash: string, inbox: Inbox<WatchEvent>) => {
  const w = state.watched.get(hash)
  if (w === undefined) return
  w.inboxes.delete(inbox)
  if (w.inboxes.size > 0) return
  state.watched.delete(hash)
  if (w.subscriptionId !== undefined) unsubscribe(state, w.subscriptionId)
}

const watch = (state: State) => (txHash: TxHash): Effect.Effect<TransactionWatch, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => {
        const inbox = new Inbox<WatchEvent>(state.waker)
        join(state, txHash, inbox)
        return inbox
      }),
      (inbox) => Effect.sync(() => leave(state, txHash, inbox))
    ),
    (inbox) => ({
      next: inbox.take,
      up: Effect.sync(() => state.watched.get(txHash)?.subscriptionId !== undefined)
    })
  )

const latestHead = (state: State) => (): BlockInfo | undefined => {
  if (!state.heads.wanted) {
    state.heads.wanted = true
    if (state.phase === "up") subscribeHeads(state)
  }
  return state.heads.latest
}

/** Keeps the connection until the scope closes. */
export const make = (options: WatchOptions): Effect.Effect<Watcher, never, Scope.Scope | Socket.WebSocketConstructor> =>
  Effect.gen(function*() {
    const state: State = {
      options,
      watched: new Map(),
      bySubscription: new Map(),
      unsubscribing: [],
      pending: new Map(),
      waker: new Waker(),
      nextId: 0,
      socket: undefined,
      connections: 0,
      phase: "connecting",
      heads: { wanted: false, subscriptionId: undefined, latest: undefined }
    }
    yield* Effect.forkScoped(Effect.repeat(connectOnce(state), options.reconnect))
    yield* Effect.addFinalizer(() => Effect.sync(() => closed(state)))
    return { watch: watch(state), latestHead: latestHead(state), connected: () => state.socket !== undefined, carry: carry(state) }
  })

/** The default reconnection: after 100 ms, growing ×2 to every 5 s, jittered, for as long as the layer lives. */
export const defaultReconnect: Schedule.Schedule<unknown, unknown> = Schedule.exponential("100 millis").pipe(
  Schedule.union(Schedule.spaced("5 seconds")),
  Schedule.jittered
)
