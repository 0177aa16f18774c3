/**
 * `npm run bench -- watching`: 1,000 concurrent waits with a WebSocket URL, against the served devnet in this
 * process. Counts the HTTP status polls (a proxy counts the JSON-RPC methods it forwards), and measures how long
 * each status change takes to reach its waiter after the devnet produced it: blocks are closed by hand
 * (`mineBlock`), so the instant the chain changed is known; each watcher notes when it hears the change. The devnet,
 * the proxy and the watchers share this process's one thread: the figures include the server's work for all 1,000
 * subscriptions (a status each, one frame each) and the client's, in turn.
 */
import { Effect, Fiber, Layer } from "effect"
import { Devnet, StarknetRpc, Transactions } from "starknet-session-keys"
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

const measure = Effect.gen(function*() {
  const server = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
  const http = yield* countingProxy(server.url)
  const devnet = yield* Devnet.Devnet
  const devnetRpc = yield* StarknetRpc.StarknetRpc
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

  // 2. The latency: N watchers (what a wait hears), blocks closed by hand at known instants.
  const hashes = yield* submitHeld(N)
  const heard = new Map<string, Map<string, number>>()
  for (const h of hashes) heard.set(h, new Map())
  const watchers = yield* Effect.forEach(hashes, (hash) =>
    Effect.fork(Effect.scoped(Effect.gen(function*() {
      const watch = yield* service.watchTransaction!(hash)
      const mine = heard.get(hash)!
      while (!mine.has("ACCEPTED_ON_L2")) {
        const e = yield* watch.next
        if (e._tag === "Status" && !mine.has(e.status.finalityStatus)) mine.set(e.status.finalityStatus, performance.now())
      }
    }))))
  const everyoneHeard = (status: string) =>
    Effect.gen(function*() {
      for (let i = 0; [...heard.values()].some((m) => !m.has(status)); i++) {
        if (i === 6_000) return yield* Effect.dieMessage(`timed out after 60 s waiting for every watcher to hear ${status}`)
        yield* Effect.sleep("10 millis")
      }
    })
  const subscribeStart = performance.now()
  yield* everyoneHeard("RECEIVED")
  const subscribeMs = performance.now() - subscribeStart
  const latencies = (status: string, producedAt: number) =>
    [...heard.values()].map((m) => m.get(status)! - producedAt).sort((a, b) => a - b)
  yield* devnet.mineBlock
  // The devnet builds its pre-confirmed block when first read: read once, so that it is produced before the clock starts.
  yield* Effect.ignore(devnetRpc.getTransactionStatus(hashes[0]!))
  const preProduced = performance.now()
  yield* everyoneHeard("PRE_CONFIRMED")
  yield* devnet.mineBlock
  const finalProduced = performance.now()
  yield* everyoneHeard("ACCEPTED_ON_L2")
  yield* Effect.forEach(watchers, Fiber.join, { discard: true })
  return {
    waitsMs,
    subscribeMs,
    pre: latencies("PRE_CONFIRMED", preProduced),
    final: latencies("ACCEPTED_ON_L2", finalProduced),
    // Each wait ends once: with its receipt, or `Reverted` (these transactions' calldata is not a real call).
    resolved: outcomes.filter((o) => o._tag === "Right" || o.left._tag === "Reverted").length,
    statusPolls: http.count("starknet_getTransactionStatus"),
    receipts: http.count("starknet_getTransactionReceipt")
  }
}).pipe(Effect.scoped, Effect.provide(Layer.fresh(Devnet.layer({ blockTime: "1 hour" }))))

export async function run(): Promise<void> {
  const r = await Effect.runPromise(measure)
  const line = (name: string, xs: ReadonlyArray<number>) =>
    `${name}: p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms, max ${xs[xs.length - 1]!.toFixed(1)} ms`
  console.log(`${N} concurrent waits with a WebSocket URL: ${r.resolved}/${N} ended with the final status; ${r.statusPolls} HTTP status polls; ` +
    `${r.receipts} receipt reads (HTTP, batched); ${(r.waitsMs / 1000).toFixed(1)} s with a block closed every 200 ms`)
  console.log(`  ${N} watchers: every current status heard ${r.subscribeMs.toFixed(0)} ms after they started`)
  console.log(`  status change reaching its waiter after the devnet produced it (goal p99 <= 50 ms):`)
  console.log(`  ${line("RECEIVED -> PRE_CONFIRMED", r.pre)}`)
  console.log(`  ${line("PRE_CONFIRMED -> ACCEPTED_ON_L2", r.final)}`)
}
