/**
 * `npm run bench -- watching`: 1,000 concurrent waits with a WebSocket URL, against the served devnet in this
 * process. Counts the HTTP status polls (a proxy counts the JSON-RPC methods it forwards), and measures how long
 * each status change takes to reach its waiter after the devnet produced it. Blocks are closed by hand
 * (`mineBlock`), so the instant the chain changed is known: for ACCEPTED_ON_L2, the block closed; for PRE_CONFIRMED,
 * the block before it closed and the devnet built its pre-confirmed block (it builds it when first read: read once,
 * so that its dry run of the 1,000 transactions is done before the clock starts). Measured twice: at the watch (what
 * the transport delivers), and at `Transactions.wait` itself (the instant it takes the status heard as the one seen,
 * from its debug log). The devnet, the proxy and the waiters share this process's one thread: the figures include
 * the server's work for all 1,000 subscriptions (a status each, one frame each) and the client's, in turn.
 */
import { Effect, Fiber, HashMap, Layer, Logger, LogLevel } from "effect"
import { Devnet, StarknetRpc, Transactions } from "starknet-session-keys"
import type { TxHash } from "starknet-session-keys/Schemas"
import * as DevnetServer from "starknet-session-keys/devnet/server"
import { countingProxy } from "../helpers/ws.js"

const N = 1_000

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!

/** `n` transactions held one block: RECEIVED until a block closes, PRE_CONFIRMED until the next, then ACCEPTED_ON_L2. */
const submitHeld = (n: number) =>
  Effect.gen(function*() {
    const devnet = yield* Devnet.Devnet
    const wallet = yield* devnet.createWallet({ encryptKey: "1111" })
    yield* devnet.setFaults({ holdBlocks: 1 })
    return yield* Effect.forEach(Array.from({ length: n }), () => devnet.submitOutside(wallet.publicKey, ["0x0"]))
  })

const closeBlocks = Effect.gen(function*() {
  const devnet = yield* Devnet.Devnet
  yield* Effect.sleep("200 millis")
  yield* devnet.mineBlock
  yield* Effect.sleep("200 millis")
  yield* devnet.mineBlock
}).pipe(Effect.forever)

/** When each hash's listener heard each status (`performance.now()`). */
type Heard = Map<string, Map<string, number>>

/**
 * `n` held transactions, one listener each (started by `listen`, which notes in `heard` when it hears a status);
 * the two blocks closed at known instants; the latency of each listener for each change.
 */
const latency = (
  listen: (hashes: ReadonlyArray<TxHash>, heard: Heard) => Effect.Effect<ReadonlyArray<Fiber.RuntimeFiber<unknown, unknown>>>
) =>
  Effect.gen(function*() {
    const devnet = yield* Devnet.Devnet
    const devnetRpc = yield* StarknetRpc.StarknetRpc
    const hashes = yield* submitHeld(N)
    const heard: Heard = new Map()
    for (const h of hashes) heard.set(h, new Map())
    const fibers = yield* listen(hashes, heard)
    const everyoneHeard = (status: string) =>
      Effect.gen(function*() {
        for (let i = 0; [...heard.values()].some((m) => !m.has(status)); i++) {
          if (i === 6_000) return yield* Effect.dieMessage(`timed out after 60 s waiting for every listener to hear ${status}`)
          yield* Effect.sleep("10 millis")
        }
      })
    const subscribeStart = performance.now()
    yield* everyoneHeard("RECEIVED")
    const subscribeMs = performance.now() - subscribeStart
    const latencies = (status: string, producedAt: number) =>
      [...heard.values()].map((m) => m.get(status)! - producedAt).sort((a, b) => a - b)
    yield* devnet.mineBlock
    yield* Effect.ignore(devnetRpc.getTransactionStatus(hashes[0]!))
    const preProduced = performance.now()
    yield* everyoneHeard("PRE_CONFIRMED")
    yield* devnet.mineBlock
    const finalProduced = performance.now()
    yield* everyoneHeard("ACCEPTED_ON_L2")
    yield* Effect.forEach(fibers, Fiber.join, { discard: true })
    return { subscribeMs, pre: latencies("PRE_CONFIRMED", preProduced), final: latencies("ACCEPTED_ON_L2", finalProduced) }
  })

const measure = Effect.gen(function*() {
  const server = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
  const http = yield* countingProxy(server.url)
  const rpc = yield* Layer.build(StarknetRpc.layerHttp({ url: http.url, wsUrl: server.wsUrl }))
  const service = yield* Effect.provide(StarknetRpc.StarknetRpc, rpc)

  // 1. The waits: N of them, to their final status, counting the status polls.
  const first = yield* submitHeld(N)
  const waitsStart = performance.now()
  const blocks = yield* Effect.fork(closeBlocks)
  const outcomes = yield* Effect.forEach(first, (h) => Effect.either(Transactions.wait(h, { timeout: "60 seconds" })), { concurrency: "unbounded" }).pipe(
    Effect.provide(rpc)
  )
  const waitsMs = performance.now() - waitsStart
  yield* Fiber.interrupt(blocks)
  const statusPolls = http.count("starknet_getTransactionStatus")
  const receipts = http.count("starknet_getTransactionReceipt")

  // 2. At the watch: N watchers, each noting when it hears a status.
  const watchers = yield* latency((hashes, heard) =>
    Effect.forEach(hashes, (hash) =>
      Effect.fork(Effect.scoped(Effect.gen(function*() {
        const watch = yield* service.watchTransaction!(hash)
        const mine = heard.get(hash)!
        while (!mine.has("ACCEPTED_ON_L2")) {
          const e = yield* watch.next
          if (e._tag === "Status" && !mine.has(e.status.finalityStatus)) mine.set(e.status.finalityStatus, performance.now())
        }
      }))))
  )

  // 3. At the waiter: N `Transactions.wait`s, each noting when it takes a status heard as the one seen.
  const waiters = yield* latency((hashes, heard) => {
    const noter = Logger.make(({ annotations, message }) => {
      const text = Array.isArray(message) ? message[0] : message
      if (text !== "transaction status heard") return
      const mine = heard.get(String(HashMap.unsafeGet(annotations, "txHash")))
      const status = String(HashMap.unsafeGet(annotations, "finalityStatus"))
      if (mine !== undefined && !mine.has(status)) mine.set(status, performance.now())
    })
    return Effect.forEach(hashes, (hash) =>
      Effect.fork(Effect.either(Transactions.wait(hash, { timeout: "60 seconds" })).pipe(
        Effect.provide(rpc),
        Effect.provide(Logger.replace(Logger.defaultLogger, noter)),
        Logger.withMinimumLogLevel(LogLevel.Debug)
      )))
  })
  return {
    waitsMs,
    watchers,
    waiters,
    // Each wait ends once: with its receipt, or `Reverted` (these transactions' calldata is not a real call).
    resolved: outcomes.filter((o) => o._tag === "Right" || o.left._tag === "Reverted").length,
    statusPolls,
    receipts,
    laterStatusPolls: http.count("starknet_getTransactionStatus") - statusPolls
  }
}).pipe(Effect.scoped, Effect.provide(Layer.fresh(Devnet.layer({ blockTime: "1 hour" }))))

export async function run(): Promise<void> {
  const r = await Effect.runPromise(measure)
  const line = (name: string, xs: ReadonlyArray<number>) =>
    `${name}: p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms, max ${xs[xs.length - 1]!.toFixed(1)} ms`
  console.log(`${N} concurrent waits with a WebSocket URL: ${r.resolved}/${N} ended with the final status; ${r.statusPolls} HTTP status polls; ` +
    `${r.receipts} receipt reads (HTTP, batched); ${(r.waitsMs / 1000).toFixed(1)} s with a block closed every 200 ms`)
  console.log(`  status change reaching its listener after the devnet produced it (goal p99 <= 50 ms):`)
  for (const [name, m] of [["at the watch", r.watchers], ["at Transactions.wait", r.waiters]] as const) {
    console.log(`  ${N} listeners ${name}: every current status heard ${m.subscribeMs.toFixed(0)} ms after they started`)
    console.log(`    ${line("RECEIVED -> PRE_CONFIRMED", m.pre)}`)
    console.log(`    ${line("PRE_CONFIRMED -> ACCEPTED_ON_L2", m.final)}`)
  }
  console.log(`  HTTP status polls during the latency runs: ${r.laterStatusPolls}`)
}
