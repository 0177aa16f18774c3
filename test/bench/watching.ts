/**
 * `npm run bench -- watching`: 1,000 concurrent waits with a WebSocket URL, against the served devnet in this
 * process. Counts the HTTP status polls (a proxy counts the JSON-RPC methods it forwards), and measures how long
 * each status change takes to reach its waiter after the devnet produced it. Blocks are closed by hand
 * (`mineBlock`), so the instant the chain changed is known: for ACCEPTED_ON_L2, the block closed; for PRE_CONFIRMED,
 * the block before it closed and the devnet built its pre-confirmed block (it builds it when first read: read once,
 * so that its dry run of the 1,000 transactions is done before the clock starts). Measured twice: at the watch (what
 * the transport delivers to a bare reader, each staying until every one has heard its final status), and at
 * `Transactions.wait` itself (the instant the wait's fiber takes the status from its watch, behind the handling of
 * the waits woken before it). The devnet, the proxy and the
 * waiters share this process's one thread: the figures include the server's work for all 1,000 subscriptions (a
 * status each, one frame each) and the client's, in turn; the CPU time the process spent is printed beside the wall
 * clock, which a shared machine inflates.
 */
import { Effect, Fiber, Layer } from "effect"
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

/** The ranks whose CPU time is read (p50, p99, max): reading it at each of the 1,000 would cost as much as what it measures. */
const ranks = [50, 99, 100].map((p) => Math.ceil((p / 100) * N))

/**
 * When each hash's listener heard each status (`performance.now()`), and the process's CPU time (ms) when the
 * k-th listener heard it, for k in `ranks`.
 */
interface Heard {
  readonly at: Map<string, Map<string, number>>
  readonly cpu: Map<string, Map<number, number>>
  /** Resolved when every listener has heard ACCEPTED_ON_L2. */
  readonly allFinal: Promise<void>
  readonly final: () => void
}
const makeHeard = (): Heard => {
  let final = () => {}
  const allFinal = new Promise<void>((resolve) => (final = resolve))
  return { at: new Map(), cpu: new Map(), allFinal, final: () => final() }
}

const cpuMillis = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/** Notes the first time `hash`'s listener hears `status`. */
const note = (heard: Heard, hash: string, status: string) => {
  const mine = heard.at.get(hash)
  if (mine === undefined || mine.has(status)) return
  mine.set(status, performance.now())
  let cpu = heard.cpu.get(status)
  if (cpu === undefined) heard.cpu.set(status, cpu = new Map([[0, 0]]))
  const k = cpu.get(0)! + 1
  cpu.set(0, k)
  if (ranks.includes(k)) cpu.set(k, cpuMillis())
  if (status === "ACCEPTED_ON_L2" && k === N) heard.final()
}

/**
 * `n` held transactions, one listener each (started by `listen`, which notes in `heard` when it hears a status);
 * the two blocks closed at known instants; the latency of each listener for each change, on the wall clock and in
 * the CPU time this process spent meanwhile (what the wall clock would show on a core of its own: the machine may
 * be shared).
 */
const latency = (
  listen: (hashes: ReadonlyArray<TxHash>, heard: Heard) => Effect.Effect<ReadonlyArray<Fiber.RuntimeFiber<unknown, unknown>>>
) =>
  Effect.gen(function*() {
    const devnet = yield* Devnet.Devnet
    const devnetRpc = yield* StarknetRpc.StarknetRpc
    const hashes = yield* submitHeld(N)
    const heard = makeHeard()
    for (const h of hashes) heard.at.set(h, new Map())
    const fibers = yield* listen(hashes, heard)
    const everyoneHeard = (status: string) =>
      Effect.gen(function*() {
        for (let i = 0; [...heard.at.values()].some((m) => !m.has(status)); i++) {
          if (i === 6_000) return yield* Effect.dieMessage(`timed out after 60 s waiting for every listener to hear ${status}`)
          yield* Effect.sleep("10 millis")
        }
      })
    const subscribeStart = performance.now()
    yield* everyoneHeard("RECEIVED")
    const subscribeMs = performance.now() - subscribeStart
    const latencies = (status: string, produced: { readonly wall: number; readonly cpu: number }) => ({
      wall: [...heard.at.values()].map((m) => m.get(status)! - produced.wall).sort((a, b) => a - b),
      cpu: ranks.map((k) => heard.cpu.get(status)!.get(k)! - produced.cpu)
    })
    // The devnet runs its pre-confirmed block again when the clock's second changes (the block's timestamp is the
    // clock's): blocks are closed early in a second, so that this run is not counted as delivery.
    yield* earlyInASecond
    yield* devnet.mineBlock
    yield* Effect.ignore(devnetRpc.getTransactionStatus(hashes[0]!))
    const preProduced = { wall: performance.now(), cpu: cpuMillis() }
    yield* everyoneHeard("PRE_CONFIRMED")
    yield* earlyInASecond
    yield* devnet.mineBlock
    const finalProduced = { wall: performance.now(), cpu: cpuMillis() }
    yield* everyoneHeard("ACCEPTED_ON_L2")
    yield* Effect.forEach(fibers, Fiber.join, { discard: true })
    return { subscribeMs, pre: latencies("PRE_CONFIRMED", preProduced), final: latencies("ACCEPTED_ON_L2", finalProduced) }
  })

/** Until the clock is in the first tenth of a second. */
const earlyInASecond = Effect.suspend(() => Effect.sleep(Date.now() % 1000 < 100 ? 0 : 1000 - (Date.now() % 1000)))

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
        const mine = heard.at.get(hash)!
        while (!mine.has("ACCEPTED_ON_L2")) {
          const e = yield* watch.next
          if (e._tag === "Status") note(heard, hash, e.status.finalityStatus)
        }
        // A listener that heard its last status stays until every one has: ending a thousand fibers and closing
        // their watches is the readers' own work, not delivery, and would run amid the burst it is measured on.
        yield* Effect.promise(() => heard.allFinal)
      }))))
  )

  // 3. At the waiter: N `Transactions.wait`s, each noting when its fiber takes a status from its watch (the watch's
  // `next`, as the wait calls it: the wait's own handling of each event is in the way of the waits after it).
  const waiters = yield* latency((hashes, heard) => {
    const noting = StarknetRpc.StarknetRpc.of({
      ...service,
      watchTransaction: (hash) =>
        Effect.map(service.watchTransaction!(hash), (watch) => ({
          ...watch,
          next: Effect.tap(watch.next, (e) => {
            if (e._tag === "Status") note(heard, hash, e.status.finalityStatus)
          })
        }))
    })
    return Effect.forEach(hashes, (hash) =>
      Effect.fork(Effect.either(Transactions.wait(hash, { timeout: "60 seconds" })).pipe(Effect.provideService(StarknetRpc.StarknetRpc, noting))))
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
  const line = (name: string, xs: { readonly wall: ReadonlyArray<number>; readonly cpu: ReadonlyArray<number> }) =>
    `${name}: p50 ${percentile(xs.wall, 50).toFixed(1)} ms, p99 ${percentile(xs.wall, 99).toFixed(1)} ms, max ${xs.wall[xs.wall.length - 1]!.toFixed(1)} ms` +
    ` (CPU: p50 ${xs.cpu[0]!.toFixed(1)} ms, p99 ${xs.cpu[1]!.toFixed(1)} ms, max ${xs.cpu[2]!.toFixed(1)} ms)`
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
