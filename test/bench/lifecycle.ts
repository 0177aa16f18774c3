/**
 * `Sessions.execute` on the devnet against the raw cost of what it must do (starknet.js hash + sign of the same
 * typed data), once the key is decrypted; and 100 executes in one `withSession` against 100 separate executes.
 */
import { Effect, Layer, TestClock, TestContext } from "effect"
import { ec, typedData } from "starknet"
import { Crypto, Devnet, OutsideExecution, Paymaster, Sessions } from "starknet-sessions"
import * as stark from "../../src/internal/stark.js"
import { whileBlocks } from "../helpers/chain.js"
import { fmt } from "./_measure.js"

const PIN = "246810"
const N = 100

const program = Effect.gen(function*() {
  yield* TestClock.setTime(Date.UTC(2026, 0, 1))
  const devnet = yield* Devnet.Devnet
  const paymaster = yield* Paymaster.Paymaster
  const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 10n ** 12n } })
  const session = yield* Sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 86_400 })
  yield* whileBlocks(Sessions.registerAndWait({
    encryptKey: PIN,
    wallet,
    sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 100_000 }
  }))
  const calls = [{ contractAddress: "0x33068f6539f8e6e6b131e6b2b814e6c34a5224bc66947c47dab9dfee93b35fb", entrypoint: "transfer", calldata: ["0xabc", "0x1", "0x0"] }]

  // The raw cost: starknet.js hashes the paymaster's typed data and signs it.
  const { typedData: td } = yield* paymaster.buildTransaction({ userAddress: wallet.publicKey, calls: calls as never })
  const rawKey = ec.starkCurve.utils.randomPrivateKey()
  const rawStart = performance.now()
  for (let i = 0; i < N; i++) ec.starkCurve.sign(typedData.getMessageHash(td as never, wallet.publicKey), rawKey)
  const rawMs = (performance.now() - rawStart) / N

  const params = { encryptKey: PIN, wallet, session }
  yield* Sessions.withSession(params, (s) => s.execute(calls)) // warm-up
  const scopedStart = performance.now()
  yield* Sessions.withSession(params, (s) => Effect.forEach(Array.from({ length: N }), () => s.execute(calls), { discard: true }))
  const scopedMs = (performance.now() - scopedStart) / N

  const separateStart = performance.now()
  for (let i = 0; i < N; i++) yield* Sessions.execute({ ...params, calls })
  const separateMs = (performance.now() - separateStart) / N
  yield* devnet.mineBlock
  // What the devnet's paymaster does inside each execute (its simulation hashes and verifies, as real ones do).
  const sig = ec.starkCurve.sign(OutsideExecution.typedDataHash(td, wallet.publicKey), rawKey)
  const pub = BigInt(ec.starkCurve.getStarkKey(rawKey))
  const devnetStart = performance.now()
  for (let i = 0; i < N; i++) stark.verify(BigInt(OutsideExecution.typedDataHash(td, wallet.publicKey)), sig.r, sig.s, pub)
  const devnetMs = (performance.now() - devnetStart) / N
  return { rawMs, scopedMs, separateMs, devnetMs }
})

export async function run(): Promise<void> {
  const layer = Layer.mergeAll(Devnet.layer({ blockTime: "2 seconds" }), Crypto.layer, Sessions.layer)
  const r = await Effect.runPromise(program.pipe(Effect.provide(layer), Effect.provide(TestContext.TestContext)))
  console.log(
    `execute once the key is decrypted (preflight reads, reservation, build, typed-data check, hash, sign, submit with simulation): ` +
      `${fmt(r.scopedMs)} ms; raw starknet.js hash + sign of the same typed data: ${fmt(r.rawMs)} ms; ratio ${(r.scopedMs / r.rawMs).toFixed(2)} (goal <= 1.3)`
  )
  const library = r.scopedMs - r.devnetMs
  console.log(
    `  of which the devnet's own simulation (hash + verify): ${fmt(r.devnetMs)} ms; the library's share: ${fmt(library)} ms, ` +
      `ratio ${(library / r.rawMs).toFixed(2)} to the raw hash + sign`
  )
  console.log(
    `${N} executes in one withSession: ${fmt(r.scopedMs * N)} ms in all; ${N} separate executes: ${fmt(r.separateMs * N)} ms in all ` +
      `(the key derivation is paid once instead of ${N} times: ${fmt(r.separateMs - r.scopedMs)} ms saved per execute)`
  )
}
