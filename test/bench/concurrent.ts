/**
 * 1,000 concurrent executes over loopback HTTP, one per session (1,000 wallets, each with its own registered
 * session), each a single USDC transfer: JSON-RPC HTTP requests per execute (the Starknet reads alone, and with the
 * paymaster's) and the latency of each execute (p50/p99), every execute running its full preflight and typed-data
 * check. The Starknet JSON-RPC and the paymaster are served by the same devnet on two ports, so that each count is
 * the server's own.
 */
import { Effect, Layer } from "effect"
import { Crypto, Devnet, Paymaster, Schemas, Sessions, StarknetRpc } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"
import * as keystore from "../../src/internal/crypto/keystore.js"
import { call, sessionKey, signOutside, USDC, wallet } from "../helpers/chain.js"

const SESSIONS = Number(process.env["CONCURRENT_EXECUTES"] ?? 1_000)
const PIN = "2580"

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

const measure = (n: number) =>
  Effect.gen(function*() {
    const devnet = yield* Devnet.Devnet
    const validUntil = BigInt(yield* devnet.blockTimestamp) + 86_400n
    // Set up on the devnet directly (not what is measured). The session keys are sealed in the guide's legacy
    // format, whose decryption costs nothing, so that the figures are the reads' and not the KDF's (see crypto.ts).
    const sessions = yield* Effect.forEach(Array.from({ length: n }), (_, i) =>
      Effect.gen(function*() {
        const w = yield* wallet
        const s = sessionKey(BigInt(0x5e55_0000 + i))
        // Owner-signed and submitted by the relayer; a block now and then keeps the payloads' windows open.
        const { calldata } = yield* signOutside(w.address, [
          call(w.address, "add_or_update_session_key", [s.publicKey, validUntil, 10n, 1n, Schemas.selectorOf("transfer")])
        ], w.owner)
        yield* devnet.submitOutside(w.address, calldata)
        if (i % 100 === 99) yield* devnet.mineBlock
        return {
          wallet: w.data,
          session: {
            publicKey: s.publicKey,
            encryptedPrivateKey: keystore.encryptLegacy("0x" + Buffer.from(s.key).toString("hex"), PIN),
            validUntil: Number(validUntil)
          }
        }
      }))
    yield* devnet.mineBlock
    const rpcServer = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
    const paymasterServer = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
    const client = yield* Layer.build(Layer.mergeAll(
      // The served devnet simulates each execute on one event loop (about 30 ms of ECDSA each): a batch of 100
      // builds or executes queued behind others takes longer than the default 10 s.
      StarknetRpc.layerHttp({ url: rpcServer.url, timeout: "5 minutes" }),
      Paymaster.layerSnip29({ url: paymasterServer.url, timeout: "5 minutes" }),
      Crypto.layer,
      Sessions.layer
    ))
    const rpcBefore = rpcServer.httpRequests()
    const paymasterBefore = paymasterServer.httpRequests()
    const failures = new Map<string, number>()
    const start = performance.now()
    const latencies = yield* Effect.forEach(sessions, ({ session, wallet }, i) =>
      Sessions.execute({
        encryptKey: PIN,
        wallet,
        session,
        calls: [{ contractAddress: USDC, entrypoint: "transfer", calldata: ["0x" + (0xa000 + i).toString(16), "0x1", "0x0"] }]
      }).pipe(
        Effect.map(() => performance.now() - start),
        Effect.catchAll((e) => Effect.sync(() => (failures.set(e._tag, (failures.get(e._tag) ?? 0) + 1), undefined))),
        Effect.provide(client)
      ), { concurrency: "unbounded" }).pipe(Effect.map((xs) => xs.filter((x): x is number => x !== undefined)))
    const ms = performance.now() - start
    const rpc = rpcServer.httpRequests() - rpcBefore
    const paymaster = paymasterServer.httpRequests() - paymasterBefore
    yield* devnet.mineBlock
    const succeeded = (yield* devnet.transactions).filter((t) => t.status.executionStatus === "SUCCEEDED").length
    const sorted = [...latencies].sort((a, b) => a - b)
    return { rpc, paymaster, ms, p50: percentile(sorted, 50), p99: percentile(sorted, 99), succeeded, failures: JSON.stringify(Object.fromEntries(failures)) }
  }).pipe(
    Effect.scoped,
    // Live clocks: blocks close only when mined here.
    Effect.provide(Layer.fresh(Devnet.layer({ blockTime: "1 hour" })))
  )

export async function run(): Promise<void> {
  const r = await Effect.runPromise(measure(SESSIONS))
  console.log(
    `${SESSIONS} concurrent executes (${SESSIONS} sessions, 1 transfer each, over loopback HTTP): ` +
      `${(r.rpc / SESSIONS).toFixed(3)} Starknet RPC HTTP requests per execute (${r.rpc} in all; goal <= 0.05), ` +
      `${((r.rpc + r.paymaster) / SESSIONS).toFixed(3)} with the paymaster's (${r.paymaster} paymaster requests); ` +
      `latency p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms, all done in ${(r.ms / 1000).toFixed(1)} s; ` +
      `${r.succeeded} transactions succeeded (set-up's included); failed executes: ${r.failures}`
  )
}
