/**
 * Against a served devnet on loopback: HTTP requests per poll tick for 1, 10 and 100 concurrent waits, ours against
 * starknet.js `waitForTransaction`; and the lifecycle's wall time over HTTP against in-memory.
 */
import { Effect, Layer, Schedule } from "effect"
import { RpcProvider } from "starknet"
import { Crypto, Devnet, Paymaster, Sessions, STARKNET_CONTRACTS, StarknetRpc, Transactions } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"
import { fmt } from "./_measure.js"

const PIN = "1111"

const served = Effect.gen(function*() {
  const server = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
  return { ...server, devnet: yield* Devnet.Devnet }
}).pipe(Effect.provide(Layer.fresh(Devnet.layer({ blockTime: "1 hour" }))))

const pending = (devnet: Devnet.DevnetHandle, n: number) =>
  Effect.gen(function*() {
    const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1000n } })
    // Transactions that stay RECEIVED while we count polls: blocks are an hour apart.
    return yield* Effect.forEach(Array.from({ length: n }), () => devnet.submitOutside(wallet.publicKey, ["0x0"]))
  })

const requestsPerTick = (n: number) =>
  Effect.gen(function*() {
    const { url, devnet, httpRequests } = yield* served
    const hashes = yield* pending(devnet, n)
    const ticks = 5
    const before = httpRequests()
    yield* Effect.forEach(
      hashes,
      (hash) => Effect.either(Transactions.wait(hash, { schedule: Transactions.spaced("200 millis").pipe(Schedule.intersect(Schedule.recurs(ticks - 1))) })),
      { concurrency: "unbounded" }
    ).pipe(Effect.provide(StarknetRpc.layerHttp({ url })))
    const ours = (httpRequests() - before) / ticks

    const provider = new RpcProvider({ nodeUrl: url, specVersion: "0.9.0" as never })
    const start = httpRequests()
    yield* Effect.promise(() =>
      Promise.all(hashes.map((hash) => provider.waitForTransaction(hash, { retryInterval: 200 }).catch(() => undefined)))
        .then(() => undefined)
    ).pipe(Effect.timeout("1 second"), Effect.ignore)
    const elapsedTicks = 1000 / 200
    const theirs = (httpRequests() - start) / elapsedTicks
    return { ours, theirs }
  }).pipe(Effect.scoped)

const lifecycle = (devnet: Devnet.DevnetHandle) =>
  Effect.gen(function*() {
    const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1000n } })
    const fast = { wait: { schedule: Schedule.spaced("10 millis") } }
    const start = performance.now()
    const session = yield* Sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 600 })
    yield* Sessions.registerAndWait({ encryptKey: PIN, wallet, sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 3 } }, fast)
    for (let i = 0; i < 3; i++) {
      yield* Sessions.executeAndWait({
        encryptKey: PIN,
        wallet,
        session,
        calls: [{ contractAddress: STARKNET_CONTRACTS.USDC.contractAddress, entrypoint: "transfer", calldata: ["0xabc", "0x1", "0x0"] }]
      }, fast)
    }
    yield* Sessions.revokeAndWait({ encryptKey: PIN, wallet, sessionPublicKey: session.publicKey }, fast)
    return performance.now() - start
  }).pipe(Effect.provide(Layer.merge(Crypto.layer, Sessions.layer)))

export async function run(): Promise<void> {
  for (const n of [1, 10, 100]) {
    const r = await Effect.runPromise(requestsPerTick(n))
    console.log(`${n} concurrent waits: ${r.ours.toFixed(1)} HTTP requests per poll tick (ours), ${r.theirs.toFixed(1)} (starknet.js waitForTransaction)`)
  }
  const times = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const inMemory = yield* Effect.flatMap(Devnet.Devnet, lifecycle).pipe(Effect.provide(Devnet.layer({ blockTime: "5 millis" })))
    const server = yield* Effect.gen(function*() {
      const s = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
      return { ...s, devnet: yield* Devnet.Devnet }
    }).pipe(Effect.provide(Devnet.layer({ blockTime: "5 millis" })))
    const overHttp = yield* lifecycle(server.devnet).pipe(
      Effect.provide(Layer.merge(StarknetRpc.layerHttp({ url: server.url }), Paymaster.layerSnip29({ url: server.url })))
    )
    return { inMemory, overHttp }
  })))
  console.log(
    `lifecycle (create, register, 3 executes, revoke, each waited for): in memory ${fmt(times.inMemory)} ms, over HTTP on loopback ${fmt(times.overHttp)} ms ` +
      `(the wire adds ${fmt(times.overHttp - times.inMemory)} ms)`
  )
}
