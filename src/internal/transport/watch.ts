/**
 * Watching transactions over one WebSocket connection (RPC 0.9 `starknet_subscribeTransactionStatus`, starknet-specs
 * v0.9.0 `api/starknet_ws_api.json`): one subscription per watched hash, however many waits watch it, all on one
 * connection. The connection is kept by a fiber of the layer's scope: when it closes (or misses a heartbeat) every
 * watch hears `Down` (its wait polls meanwhile), the connection is made again on a `Schedule`, each hash is
 * subscribed again and its watches hear `Up`, then the node's current status. Frames are `@effect/platform`'s
 * `Socket` (protocol pings are answered by the WebSocket implementation).
 */
import * as Socket from "@effect/platform/Socket"
import { type Duration, Effect, Queue, Schedule, Schema, type Scope } from "effect"
import { RpcError } from "../../Errors.js"
import * as Schemas from "../../Schemas.js"
import type { TransactionStatus, TxHash } from "../../Schemas.js"
import type { TransactionWatch, WatchEvent } from "../../StarknetRpc.js"
import { revertReasonOf } from "./reason.js"

export interface WatchOptions {
  readonly url: string
  readonly reconnect: Schedule.Schedule<unknown, unknown>
  readonly heartbeat: Duration.Duration
  readonly requestTimeout: Duration.Duration
  /** Called on each reconnection after the first connection (for the metrics). */
  readonly onReconnect?: Effect.Effect<void>
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

interface Watched {
  readonly listeners: Set<Queue.Queue<WatchEvent>>
  subscriptionId: string | undefined
  /** The last status heard on the subscription, for a watch that joins it later. */
  last: TransactionStatus | undefined
}

type Pending = (answer: { readonly result?: unknown; readonly error?: { readonly code: number; readonly message: string } } | "closed") => void

const isRecord = (u: unknown): u is Record<string, any> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Keeps the connection until the scope closes; answers `watch`, which subscribes a hash for as long as its scope
 * lasts.
 */
export const make = (options: WatchOptions): Effect.Effect<
  { readonly watch: (txHash: TxHash) => Effect.Effect<TransactionWatch, never, Scope.Scope>; readonly connected: () => boolean },
  never,
  Scope.Scope | Socket.WebSocketConstructor
> =>
  Effect.gen(function*() {
    const watched = new Map<string, Watched>()
    const bySubscription = new Map<string, string>()
    const pending = new Map<number, Pending>()
    let nextId = 0
    let write: ((text: string) => void) | undefined
    let connections = 0
    // "connecting" only until the first attempt ends: a watch made meanwhile waits for it rather than polling.
    let state: "connecting" | "up" | "down" = "connecting"

    const emit = (w: Watched, event: WatchEvent) => {
      for (const q of w.listeners) Queue.unsafeOffer(q, event)
    }

    /** Sends a request; `onAnswer` runs in the message handler, before any later message is read. */
    const send = (method: string, params: unknown, onAnswer: Pending) => {
      if (write === undefined) return onAnswer("closed")
      const id = ++nextId
      pending.set(id, onAnswer)
      write(JSON.stringify({ jsonrpc: "2.0", id, method, params }))
    }

    const subscribe = (hash: string, w: Watched) =>
      send("starknet_subscribeTransactionStatus", { transaction_hash: hash }, (answer) => {
        // The watch may have ended while the request was on the wire.
        if (watched.get(hash) !== w) {
          if (answer !== "closed" && typeof answer.result === "string") send("starknet_unsubscribe", { subscription_id: answer.result }, () => {})
          return
        }
        if (answer === "closed" || answer.error !== undefined || typeof answer.result !== "string") {
          emit(w, { _tag: "Down" })
          return
        }
        w.subscriptionId = answer.result
        bySubscription.set(answer.result, hash)
        emit(w, { _tag: "Up" })
      })

    const onMessage = (data: string | Uint8Array) => {
      let message: unknown
      try {
        message = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data))
      } catch {
        return
      }
      if (!isRecord(message)) return
      if (typeof message["id"] === "number" && ("result" in message || "error" in message)) {
        const p = pending.get(message["id"])
        if (p !== undefined) {
          pending.delete(message["id"])
          p(message as Parameters<Pending>[0])
        }
        return
      }
      const params = message["params"]
      if (!isRecord(params)) return
      const hash = bySubscription.get(String(params["subscription_id"]))
      const w = hash === undefined ? undefined : watched.get(hash)
      if (w === undefined) return
      if (message["method"] === "starknet_subscriptionTransactionStatus") {
        const decoded = decodeStatus(params["result"])
        if (decoded._tag === "None") return
        const s = decoded.value.status
        const status: TransactionStatus = {
          finalityStatus: s.finality_status,
          ...(s.execution_status !== undefined ? { executionStatus: s.execution_status } : {}),
          ...(s.failure_reason !== undefined ? { revertReason: revertReasonOf(s.failure_reason) ?? s.failure_reason } : {})
        }
        w.last = status
        emit(w, { _tag: "Status", status })
      } else if (message["method"] === "starknet_subscriptionReorg") {
        w.last = undefined
        emit(w, { _tag: "Reorg" })
      }
    }

    const closed = () => {
      state = "down"
      write = undefined
      for (const p of pending.values()) p("closed")
      pending.clear()
      bySubscription.clear()
      for (const w of watched.values()) {
        w.subscriptionId = undefined
        w.last = undefined
        emit(w, { _tag: "Down" })
      }
    }

    /** A request answered within the request timeout, else a transient `RpcError`. */
    const request = (method: string, params: unknown) =>
      Effect.async<unknown, RpcError>((resume) => {
        send(method, params, (answer) =>
          resume(
            answer === "closed"
              ? Effect.fail(new RpcError({ method, code: 0, message: "the WebSocket connection closed", transient: true }))
              : answer.error !== undefined
              ? Effect.fail(new RpcError({ method, code: answer.error.code, message: answer.error.message, transient: false }))
              : Effect.succeed(answer.result)
          ))
      }).pipe(
        Effect.timeoutFail({
          duration: options.requestTimeout,
          onTimeout: () => new RpcError({ method, code: 0, message: "no answer over the WebSocket connection", transient: true })
        })
      )

    // A node that stops answering without closing (a dead route) is found by a heartbeat request.
    const heartbeat = request("starknet_specVersion", []).pipe(
      Effect.delay(options.heartbeat),
      Effect.forever
    )

    const connectOnce = Effect.scoped(
      Effect.gen(function*() {
        const socket = yield* Socket.makeWebSocket(options.url, { openTimeout: options.requestTimeout })
        const writer = yield* socket.writer
        const onOpen = Effect.gen(function*() {
          state = "up"
          write = (text) => {
            Effect.runFork(Effect.ignore(writer(text)))
          }
          if (connections++ > 0 && options.onReconnect !== undefined) yield* options.onReconnect
          for (const [hash, w] of watched) subscribe(hash, w)
        })
        yield* Effect.raceFirst(socket.runRaw(onMessage, { onOpen }), heartbeat)
      })
    ).pipe(
      Effect.ensuring(Effect.sync(closed)),
      Effect.exit
    )

    yield* Effect.forkScoped(Effect.repeat(connectOnce, options.reconnect))
    yield* Effect.addFinalizer(() => Effect.sync(closed))

    const watch = (txHash: TxHash): Effect.Effect<TransactionWatch, never, Scope.Scope> =>
      Effect.gen(function*() {
        const queue = yield* Queue.unbounded<WatchEvent>()
        const hash = txHash as string
        yield* Effect.acquireRelease(
          Effect.sync(() => {
            let w = watched.get(hash)
            if (w === undefined) {
              w = { listeners: new Set(), subscriptionId: undefined, last: undefined }
              watched.set(hash, w)
              w.listeners.add(queue)
              // Not connected: heard as down (the wait polls) until the connection is back.
              if (state === "down") Queue.unsafeOffer(queue, { _tag: "Down" })
              else if (state === "up") subscribe(hash, w)
            } else {
              w.listeners.add(queue)
              if (w.subscriptionId !== undefined) {
                // Joins a subscription already up: the node sent its current status to the first watch only.
                Queue.unsafeOffer(queue, { _tag: "Up" })
                if (w.last !== undefined) Queue.unsafeOffer(queue, { _tag: "Status", status: w.last })
              } else if (state === "down") Queue.unsafeOffer(queue, { _tag: "Down" })
            }
          }),
          () =>
            Effect.sync(() => {
              const w = watched.get(hash)
              if (w === undefined) return
              w.listeners.delete(queue)
              if (w.listeners.size > 0) return
              watched.delete(hash)
              if (w.subscriptionId !== undefined) {
                bySubscription.delete(w.subscriptionId)
                send("starknet_unsubscribe", { subscription_id: w.subscriptionId }, () => {})
              }
            }).pipe(Effect.zipRight(Queue.shutdown(queue)))
        )
        return {
          next: Queue.take(queue),
          up: Effect.sync(() => watched.get(hash)?.subscriptionId !== undefined)
        }
      })

    return { watch, connected: () => write !== undefined }
  })

/** The default reconnection: after 100 ms, growing ×2 to every 5 s, jittered, for as long as the layer lives. */
export const defaultReconnect: Schedule.Schedule<unknown, unknown> = Schedule.exponential("100 millis").pipe(
  Schedule.union(Schedule.spaced("5 seconds")),
  Schedule.jittered
)
