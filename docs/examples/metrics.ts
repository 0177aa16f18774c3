// The guide's flow (create, register, execute, revoke) against the served devnet over JSON-RPC (waits through its
// WebSocket subscriptions), one execute refused by the preflight, then the library's metrics as Effect's own registry holds them (`Metric.snapshot`): what an exporter
// such as @effect/opentelemetry would send. Run with `npx tsx --conditions=starknet-session-keys-source
// docs/examples/metrics.ts`; test/examples.test.ts runs it too.
import { Effect, Either, Layer, Metric } from "effect"
import { Crypto, Devnet, Paymaster, Sessions, STARKNET_CONTRACTS, StarknetRpc, Transactions } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"

const PIN = "735911"
const RECIPIENT = "0x7e0c1e4"

const transfer = (amount: bigint) => ({
  contractAddress: STARKNET_CONTRACTS.USDC.contractAddress,
  entrypoint: "transfer",
  calldata: [RECIPIENT, "0x" + amount.toString(16), "0x0"]
})

const guideFlow = Effect.gen(function*() {
  const devnet = yield* Devnet.Devnet
  const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 5_000_000n } })
  const session = yield* Sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 3600 })
  yield* Sessions.registerAndWait({
    encryptKey: PIN,
    wallet,
    session,
    sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 1, allowedEntrypoints: [] }
  })
  const txHash = yield* Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1_000n)] })
  yield* Transactions.wait(txHash)
  // The session allows one call: a second execute is refused by the preflight, before anything is sent.
  const refused = yield* Effect.either(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }))
  yield* Sessions.revokeAndWait({ encryptKey: PIN, wallet, sessionPublicKey: session.publicKey })
  return Either.isLeft(refused) ? refused.left._tag : "not refused"
})

/** One line per metric and tag set: counters with their count, histograms with their count and sum (ms). */
export const metricLines = Effect.map(Metric.snapshot, (pairs) =>
  pairs
    .filter((p) => p.metricKey.name.startsWith("starknet_session_"))
    .map((p) => {
      const tags = p.metricKey.tags.map((t) => `${t.key}=${t.value}`).join(",")
      const state = p.metricState as unknown as { readonly count: number; readonly sum?: number }
      const value = state.sum === undefined ? `${state.count}` : `count ${state.count}, sum ${Math.round(state.sum)} ms`
      return `${p.metricKey.name}${tags === "" ? "" : `{${tags}}`} ${value}`
    })
    .sort())

export const main = () =>
  Effect.runPromise(
    Effect.gen(function*() {
      const { url, wsUrl } = yield* DevnetServer.serve()
      // What an application provides on a real network: the node (HTTP and WebSocket), the paymaster.
      const live = Layer.mergeAll(StarknetRpc.layerHttp({ url, wsUrl }), Paymaster.layerSnip29({ url }), Crypto.layer, Sessions.layer)
      const refusal = yield* guideFlow.pipe(Effect.provide(live))
      const lines = yield* metricLines
      for (const line of lines) console.log(line)
      return { refusal, lines }
    }).pipe(Effect.scoped, Effect.provide(Devnet.layer({ blockTime: "100 millis" })))
  )

if (import.meta.url === `file://${process.argv[1]}`) void main()
