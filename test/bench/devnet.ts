/**
 * Session-signed executes per second on the devnet, against the crypto floor (message hash + one ECDSA verify of
 * the same executes, measured in the same run), and how throughput scales with calls per multicall. The relayer's
 * INVOKE v3 hash is timed too (the hash every relayed execute also needs), and the devnet is run with that hash
 * computed in one piece, as before it was specialised, in interleaved rounds of the same run.
 */
import { Effect, Layer, TestClock, TestContext } from "effect"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { Devnet, OutsideExecution, Paymaster } from "starknet-session-keys"
import { _usePlainInvokeHash, invokeV3Hash } from "../../src/devnet/transactions.js"
import { S } from "../../src/devnet/selectors.js"
import { typedDataScalar } from "../../src/internal/crypto/felt.js"
import * as stark from "../../src/internal/crypto/stark.js"
import { register, sessionKey, signOutside, transfer, wallet } from "../helpers/chain.js"
import { fmt } from "./_measure.js"

setFlagsFromString("--expose-gc")
/** A full collection before each timed phase: each phase then pays for its own garbage, not the last one's. */
const gc = runInNewContext("gc") as () => void

const measure = (count: number, callsPerTx: number, through: "relayer" | "paymaster") =>
  Effect.gen(function*() {
    const devnet = yield* Devnet.Devnet
    const paymaster = yield* Paymaster.Paymaster
    const w = yield* wallet
    const s = sessionKey(BigInt(0xbe0c + callsPerTx))
    const validUntil = BigInt(yield* devnet.blockTimestamp) + 86_400n
    yield* register(w.address, w.owner, s.publicKey, validUntil, 1_000_000n)
    yield* devnet.mineBlock
    const signer = { key: s.key, session: { validUntil } }
    const calls = Array.from({ length: callsPerTx }, (_, i) => transfer("0x" + (0xa00 + i).toString(16), 1n))
    // Built and signed outside the timed loop.
    const signed = yield* Effect.forEach(Array.from({ length: count }), () => signOutside(w.address, calls, signer, { before: validUntil }))
    // The floor: what any verifier must do for the same executes.
    gc()
    const floorStart = performance.now()
    for (const { oe, signature } of signed) {
      const h = BigInt(OutsideExecution.messageHash(devnet.chainId, w.address, oe))
      stark.verify(h, BigInt(signature[1]!), BigInt(signature[2]!), BigInt(signature[0]!))
    }
    const floorMs = performance.now() - floorStart
    // The relayer's transaction hash of the same executes (its nonces as the devnet will give them).
    const chainId = typedDataScalar(devnet.chainId)
    const relayer = BigInt(devnet.relayer)
    const account = BigInt(w.address)
    gc()
    const hashStart = performance.now()
    signed.forEach(({ calldata }, i) =>
      invokeV3Hash(chainId, relayer, BigInt(i), [1n, account, S.execute_from_outside_v2, BigInt(calldata.length), ...calldata.map(BigInt)])
    )
    const txHashMs = performance.now() - hashStart
    gc()
    const start = performance.now()
    for (const { oe, calldata, signature } of signed) {
      if (through === "relayer") yield* devnet.submitOutside(w.address, calldata)
      else {
        yield* paymaster.executeTransaction({ userAddress: w.address, typedData: OutsideExecution.toTypedData(devnet.chainId, oe), signature })
      }
    }
    yield* devnet.mineBlock
    const ms = performance.now() - start
    const txs = yield* devnet.transactions
    const succeeded = txs.filter((t) => t.status.executionStatus === "SUCCEEDED").length
    return {
      perSecond: (count * 1000) / ms,
      floorPerSecond: (count * 1000) / floorMs,
      withTxHashPerSecond: (count * 1000) / (floorMs + txHashMs),
      succeeded
    }
  }).pipe(
    Effect.provide(Layer.fresh(Devnet.layer({ blockTime: "1 hour" }))),
    // The TestClock stands still while the work is timed with performance.now().
    (effect) => Effect.zipRight(TestClock.setTime(Date.UTC(2026, 0, 1)), effect),
    Effect.provide(TestContext.TestContext)
  )

export async function run(): Promise<void> {
  await Effect.runPromise(measure(50, 1, "relayer")) // warm-up
  // Five interleaved rounds, since the machine is shared: the relayer's hash computed in one piece (as before it was
  // specialised), then as it is; the median of each is reported.
  const runs: Array<{ readonly plain: Awaited<ReturnType<typeof once>>; readonly specialised: Awaited<ReturnType<typeof once>> }> = []
  const once = () => Effect.runPromise(measure(300, 1, "relayer"))
  for (let round = 0; round < 5; round++) {
    _usePlainInvokeHash(true)
    const plain = await once()
    _usePlainInvokeHash(false)
    runs.push({ plain, specialised: await once() })
  }
  const middle = <A>(xs: ReadonlyArray<A>, by: (a: A) => number) => [...xs].sort((a, b) => by(a) - by(b))[Math.floor(xs.length / 2)]!
  const ratio = (r: { perSecond: number; floorPerSecond: number }) => r.perSecond / r.floorPerSecond
  const plain = middle(runs.map((r) => r.plain), ratio)
  const base = middle(runs.map((r) => r.specialised), ratio)
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`
  console.log(
    `session executes on the devnet (1 call, submitted by the relayer, executed in a block): ${base.perSecond.toFixed(0)}/s; ` +
      `crypto floor (hash + verify of the same executes): ${base.floorPerSecond.toFixed(0)}/s; ` +
      `${pct(ratio(base))} of the floor (goal >= 80%; ${pct(ratio(plain))} with the relayer's hash in one piece, ` +
      `${plain.perSecond.toFixed(0)}/s against ${plain.floorPerSecond.toFixed(0)}/s); ${base.succeeded - 1} of 300 succeeded`
  )
  const ratios = runs.map((r) => ratio(r.specialised)).sort((a, b) => a - b)
  console.log(`  the median of ${runs.length} interleaved rounds of 300; their ratios ranged ${pct(ratios[0]!)}-${pct(ratios[ratios.length - 1]!)}`)
  console.log(
    `  the floor with the relayer's INVOKE v3 hash added (which every relayed execute needs): ${base.withTxHashPerSecond.toFixed(0)}/s; ` +
      `the devnet at ${pct(base.perSecond / base.withTxHashPerSecond)} of it`
  )
  const viaPaymaster = await Effect.runPromise(measure(200, 1, "paymaster"))
  console.log(
    `through the paymaster (simulated at submission, then executed: the work is done twice, as on a real network): ` +
      `${viaPaymaster.perSecond.toFixed(0)}/s (${((100 * viaPaymaster.perSecond) / viaPaymaster.floorPerSecond).toFixed(0)}% of one hash + verify)`
  )
  const one = base.perSecond
  for (const calls of [2, 5, 10]) {
    const r = await Effect.runPromise(measure(150, calls, "relayer"))
    console.log(
      `  ${calls} calls per multicall: ${r.perSecond.toFixed(0)} executes/s, ${fmt(1000 / r.perSecond)} ms each ` +
        `(x${(one / r.perSecond).toFixed(2)} the time of one call; the hash grows with the calls, the verify does not)`
    )
  }
}
