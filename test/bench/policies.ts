/**
 * What the policy check costs against a whole execute: an agent wallet's policy (allowed contract and entrypoint,
 * allowed merchants, a per-call cap, a daily budget counted in the ledger) on an embedded devnet. Prints the time of
 * an execute (the check included), of the check alone on the same calls and ledger, and their ratio.
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import { Crypto, Devnet, Policies, Sessions, STARKNET_CONTRACTS } from "starknet-session-keys"
import { fmt, msPerOpAsync } from "./_measure.js"

const PIN = "735911"
const USDC = STARKNET_CONTRACTS.USDC.contractAddress
const MERCHANTS = ["0x3e7c4a11", "0x3e7c4a12", "0x3e7c4a13"]

export async function run(): Promise<void> {
  const policies = Policies.layer({
    all: {
      allowedCalls: [{ contractAddress: USDC, entrypoint: "transfer" }],
      allowedRecipients: MERCHANTS,
      maxAmountPerCall: [{ token: USDC, amount: 50n }],
      budgets: [{ token: USDC, amount: 10n ** 30n, windowSeconds: 86_400 }]
    }
  })
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(Devnet.layer({ blockTime: "50 millis" }), Crypto.layerDeterministic("policy-bench"), Sessions.layer, Layer.orDie(policies))
  )
  try {
    const { session, wallet } = await runtime.runPromise(Effect.gen(function*() {
      const devnet = yield* Devnet.Devnet
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 10n ** 12n } })
      const session = yield* Sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 4 * 3600 })
      yield* Sessions.registerAndWait({
        encryptKey: PIN,
        wallet,
        session,
        sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 100_000, allowedEntrypoints: [] }
      })
      return { session, wallet }
    }))
    let i = 0
    const calls = () => [{ contractAddress: USDC, entrypoint: "transfer", calldata: [MERCHANTS[i++ % 3]!, "0x1", "0x0"] }]
    const execute = () => runtime.runPromise(Sessions.execute({ encryptKey: PIN, wallet, session, calls: calls() }))
    const decoded = calls().map((c) => ({ ...c, contractAddress: c.contractAddress as never, calldata: c.calldata as never }))
    const check = () =>
      runtime.runPromise(Policies.check({ wallet: wallet.publicKey as never, sessionPublicKey: session.publicKey as never, calls: decoded }))
    const executeMs = await msPerOpAsync(execute, { warmup: 5, minMillis: 3000 })
    const checkMs = await msPerOpAsync(check, { warmup: 50, minMillis: 1000 })
    console.log(`execute (policy check included): ${fmt(executeMs)} ms`)
    console.log(`policy check alone: ${fmt(checkMs)} ms`)
    console.log(`policy check / execute: ${((checkMs / executeMs) * 100).toFixed(2)} %`)
  } finally {
    await runtime.dispose()
  }
}
