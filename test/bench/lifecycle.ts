/**
 * `Sessions.execute` on the devnet against the raw cost of what it must do (starknet.js hash + sign of the same
 * typed data), once the key is decrypted; and 100 executes in one `withSession` against 100 separate executes.
 */
import { Effect, Layer, Redacted, TestClock, TestContext } from "effect"
import { ec, typedData } from "starknet"
import { Constants, Crypto, Devnet, OutsideExecution, Paymaster, type Schemas, Sessions, StarknetRpc } from "starknet-session-keys"
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
  // Timed inside the scope: the key is decrypted once before the clock starts.
  let scopedMs = 0
  let withSessionMs = performance.now()
  yield* Sessions.withSession(params, (s) =>
    Effect.gen(function*() {
      const scopedStart = performance.now()
      for (let i = 0; i < N; i++) yield* s.execute(calls)
      scopedMs = (performance.now() - scopedStart) / N
    }))
  withSessionMs = performance.now() - withSessionMs

  const separateStart = performance.now()
  for (let i = 0; i < N; i++) yield* Sessions.execute({ ...params, calls })
  const separateMs = (performance.now() - separateStart) / N
  // The same separate executes without the decrypted-key cache: each pays the key derivation.
  const UNCACHED = 10
  const uncachedStart = performance.now()
  for (let i = 0; i < UNCACHED; i++) {
    yield* Sessions.execute({ ...params, calls }).pipe(Effect.provide(Crypto.layerWith({ keyCache: false })))
  }
  const uncachedMs = (performance.now() - uncachedStart) / UNCACHED
  yield* devnet.mineBlock

  // What the devnet does inside each execute, timed on its own: the reads an execute makes (chain id, block, session
  // data), the paymaster's build, and its submission (simulated as real paymasters do: parse, hash, verify, run).
  const rpc = yield* StarknetRpc.StarknetRpc
  const crypto = yield* Crypto.Crypto
  const key = yield* crypto.decryptPrivateKey(session.encryptedPrivateKey, Redacted.make(PIN), session.publicKey)
  let devnetMs = 0
  for (let i = 0; i < N; i++) {
    const t0 = performance.now()
    yield* rpc.chainId
    yield* rpc.latestBlock
    yield* rpc.call({ contractAddress: wallet.publicKey, entrypoint: Constants.SELECTORS.get_session_data, calldata: [session.publicKey as Schemas.Felt] })
    const built = yield* paymaster.buildTransaction({ userAddress: wallet.publicKey, calls: calls as never })
    const t1 = performance.now()
    const signature = yield* crypto.sign(OutsideExecution.typedDataHash(built.typedData, wallet.publicKey), key)
    const t2 = performance.now()
    yield* paymaster.executeTransaction({
      userAddress: wallet.publicKey,
      typedData: built.typedData,
      signature: OutsideExecution.sessionSignature(session.publicKey, signature, session.validUntil)
    })
    devnetMs += t1 - t0 + performance.now() - t2
  }
  devnetMs /= N

  // The library alone: the same executes against instant stand-ins that answer what the devnet answered.
  const stored = yield* rpc.call({ contractAddress: wallet.publicKey, entrypoint: Constants.SELECTORS.get_session_data, calldata: [session.publicKey as Schemas.Felt] })
  const block = yield* rpc.latestBlock
  let nonce = 1n
  const instantRpc = StarknetRpc.StarknetRpc.of({
    chainId: Effect.succeed(devnet.chainId),
    latestBlock: Effect.succeed(block),
    call: () => Effect.succeed(stored),
    getTransactionStatus: () => Effect.die("not used"),
    getTransactionReceipt: () => Effect.die("not used"),
    getNonce: () => Effect.die("not used"),
    getBlockWithTxs: () => Effect.die("not used"),
    simulateCalls: () => Effect.die("not used"),
    getTransactionTrace: () => Effect.die("not used")
  })
  const instantPaymaster = Paymaster.Paymaster.of({
    isAvailable: Effect.succeed(true),
    buildTransaction: (req) =>
      Effect.sync(() => ({
        typedData: OutsideExecution.toTypedData(devnet.chainId, {
          caller: Constants.ANY_CALLER as Schemas.Felt,
          nonce: ("0x" + (nonce++).toString(16)) as Schemas.Felt,
          executeAfter: BigInt(req.timeBounds!.executeAfter),
          executeBefore: BigInt(req.timeBounds!.executeBefore),
          calls: OutsideExecution.toOutsideCalls(req.calls)
        })
      })),
    executeTransaction: () => Effect.succeed({ transactionHash: "0x1" as Schemas.TxHash })
  })
  // Interleaved rounds, so that both sides see the same machine; the median round is reported.
  const rounds: Array<{ readonly alone: number; readonly raw: number }> = []
  yield* Sessions.withSession(params, (handle) =>
    Effect.gen(function*() {
      for (let round = 0; round < 7; round++) {
        const aloneStart = performance.now()
        for (let i = 0; i < 50; i++) yield* handle.execute(calls)
        const alone = (performance.now() - aloneStart) / 50
        const rawStart = performance.now()
        for (let i = 0; i < 50; i++) ec.starkCurve.sign(typedData.getMessageHash(td as never, wallet.publicKey), rawKey)
        rounds.push({ alone, raw: (performance.now() - rawStart) / 50 })
      }
    })).pipe(
      Effect.provideService(StarknetRpc.StarknetRpc, instantRpc),
      Effect.provideService(Paymaster.Paymaster, instantPaymaster),
      Effect.provide(Sessions.layer)
    )
  const ratios = rounds.map((r) => r.alone / r.raw).sort((a, b) => a - b)
  const median = rounds.find((r) => r.alone / r.raw === ratios[3])!
  return { rawMs, scopedMs, withSessionMs, separateMs, uncachedMs, devnetMs, alone: { ...median, low: ratios[0]!, high: ratios[6]! } }
})

export async function run(): Promise<void> {
  const layer = Layer.mergeAll(Devnet.layer({ blockTime: "2 seconds" }), Crypto.layer, Sessions.layer)
  const r = await Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(layer), Effect.provide(TestContext.TestContext)))
  console.log(
    `execute once the key is decrypted (preflight reads, reservation, build, typed-data check, hash, sign, submit with simulation): ` +
      `${fmt(r.scopedMs)} ms; raw starknet.js hash + sign of the same typed data: ${fmt(r.rawMs)} ms; ratio ${(r.scopedMs / r.rawMs).toFixed(2)} (the devnet's own hash + verify included)`
  )
  const library = r.scopedMs - r.devnetMs
  console.log(
    `  of which the devnet's own work (the reads, the build, the simulated submission: hash + verify + run): ${fmt(r.devnetMs)} ms; ` +
      `the library's share: ${fmt(library)} ms, ` +
      `ratio ${(library / r.rawMs).toFixed(2)} to the raw hash + sign (goal <= 1.3)`
  )
  console.log(
    `  the library alone (instant stand-ins for the node and the paymaster), median of 7 interleaved rounds: ` +
      `${fmt(r.alone.alone)} ms against ${fmt(r.alone.raw)} ms raw, ratio ${(r.alone.alone / r.alone.raw).toFixed(2)} ` +
      `(rounds ${r.alone.low.toFixed(2)}-${r.alone.high.toFixed(2)}; goal <= 1.3)`
  )
  console.log(
    `${N} executes in one withSession (its one decryption included): ${fmt(r.withSessionMs)} ms in all; ${N} separate executes: ` +
      `${fmt(r.separateMs * N)} ms in all (with the decrypted-key cache, both pay one key derivation)`
  )
  console.log(
    `separate executes (the guide's per-call shape): ${fmt(r.separateMs)} ms each with the decrypted-key cache, ` +
      `${fmt(r.uncachedMs)} ms each without it (Crypto.layerWith({ keyCache: false }): a key derivation per execute)`
  )
}
