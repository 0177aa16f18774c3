/**
 * Many concurrent waits over loopback HTTP: requests per poll tick (one per tick up to maxBatchSize, then
 * ceil(N / maxBatchSize)), and the heap each pending wait holds.
 */
import { Effect, Fiber, Layer, Schedule } from "effect"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { Devnet, StarknetRpc, Transactions } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"

setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void
const heap = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

const TICKS = 4
/**
 * The poll tick: longer than the served devnet (in this process) takes to answer one look of every wait, else the
 * answers of one look straddle ticks and the waits' next looks fall on different ticks.
 */
const tickFor = (n: number) => Math.max(500, Math.ceil(n / 500) * 500)

const measure = (n: number, maxBatchSize: number) =>
  Effect.gen(function*() {
    const TICK = tickFor(n)
    const server = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
    const devnet = yield* Devnet.Devnet
    const wallet = yield* devnet.createWallet({ encryptKey: "1111" })
    // Transactions that stay RECEIVED while polls are counted: blocks are an hour apart.
    const hashes = yield* Effect.forEach(Array.from({ length: n }), () => devnet.submitOutside(wallet.publicKey, ["0x0"]))
    const rpc = yield* Layer.build(StarknetRpc.layerHttp({ url: server.url, maxBatchSize }))
    // Polls on a grid of the clock, so that waits started apart still share their ticks.
    const schedule = Transactions.alignedTo(TICK)(Schedule.spaced(TICK)).pipe(Schedule.intersect(Schedule.recurs(TICKS)))
    const heapBefore = heap()
    const requestsBefore = server.httpRequests()
    const start = performance.now()
    const fibers = yield* Effect.forEach(hashes, (hash) =>
      Effect.fork(Effect.either(Transactions.wait(hash, { schedule }).pipe(Effect.provide(rpc)))))
    // Mid-way, every wait is pending: what each one holds.
    yield* Effect.sleep(TICK * 1.5)
    const heapPerWait = (heap() - heapBefore) / n
    yield* Effect.forEach(fibers, Fiber.join, { discard: true })
    const ms = performance.now() - start
    const requests = server.httpRequests() - requestsBefore
    // The first look at once, then TICKS polls on the grid.
    return { requestsPerTick: requests / (TICKS + 1), heapPerWait, ms, expected: Math.ceil(n / maxBatchSize), tick: TICK }
  }).pipe(Effect.scoped, Effect.provide(Layer.fresh(Devnet.layer({ blockTime: "1 hour" }))))

export async function run(): Promise<void> {
  for (const [n, maxBatchSize] of [[50, 100], [1_000, 100], [10_000, 100], [10_000, 1_000]] as const) {
    const r = await Effect.runPromise(measure(n, maxBatchSize))
    console.log(
      `${n} concurrent waits, maxBatchSize ${maxBatchSize}: ${r.requestsPerTick.toFixed(1)} HTTP requests per poll tick ` +
        `(ceil(N / maxBatchSize) = ${r.expected}); heap per pending wait ${(r.heapPerWait / 1024).toFixed(1)} KiB; ` +
        `${(r.ms / 1000).toFixed(1)} s for ${TICKS + 1} looks ${r.tick} ms apart`
    )
  }
}
