// Testing a backend's error handling with the devnet: a paymaster that tampers with the typed data it returns is
// caught before anything is signed, transient faults are retried, and an answer lost after the paymaster accepted
// a submission is resolved from the chain, the transfer made once. Run by test/examples.test.ts.
import { Effect, Layer, Redacted } from "effect"
import { Crypto, Devnet, Errors, Sessions, STARKNET_CONTRACTS } from "starknet-session-keys"

export const program = Effect.gen(function*() {
  const devnet = yield* Devnet.Devnet
  const pin = Redacted.make("5150")
  const wallet = yield* devnet.createWallet({ encryptKey: pin, fund: { USDC: 2_000_000n } })
  const session = yield* Sessions.createSessionKey({ encryptKey: pin, durationSeconds: 600 })
  yield* Sessions.registerAndWait({
    encryptKey: pin,
    wallet,
    sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 3, allowedEntrypoints: ["transfer"] }
  })
  const calls = [{ contractAddress: STARKNET_CONTRACTS.USDC.contractAddress, entrypoint: "transfer", calldata: ["0xfee", "0x64", "0x0"] }]

  // 1. A paymaster that changes the calldata it was asked to sponsor.
  yield* devnet.setFaults({ alterTypedData: "calldata" })
  const tampered = yield* Effect.flip(Sessions.execute({ encryptKey: pin, wallet, session, calls }))
  yield* devnet.clearFaults

  // 2. A flaky network: the next three requests fail with 503s; the default retry schedule absorbs them.
  yield* devnet.setFaults({ failNext: 3 })
  const receipt = yield* Sessions.executeAndWait({ encryptKey: pin, wallet, session, calls })

  // 3. The connection drops after the paymaster accepted the submission: its answer is lost. The retry is refused
  //    for its nonce, so nothing runs twice; the library asks the chain, which says it executed, and answers the
  //    transaction's hash (or `OutcomeUnknown`, to resolve later with `Sessions.resolve`, if the chain had not decided
  //    within the retry budget).
  yield* devnet.setFaults({ dropNext: 1, dropWhen: "after", faultMethods: ["paymaster_executeTransaction"] })
  const resolved = yield* Sessions.execute({ encryptKey: pin, wallet, session, calls }, { idempotencyKey: "payout-3" })
  yield* devnet.clearFaults
  const onChain = (yield* devnet.transactions).find((tx) => tx.hash === resolved)

  return {
    refusedTamperedTypedData: tampered instanceof Errors.TypedDataMismatch,
    field: tampered instanceof Errors.TypedDataMismatch ? tampered.field : undefined,
    executedDespiteFaults: receipt.executionStatus,
    lostAnswerResolved: onChain?.status.executionStatus,
    recipientBalance: yield* devnet.balanceOf(STARKNET_CONTRACTS.USDC.contractAddress, "0xfee")
  }
})

export const main = () =>
  Effect.runPromise(program.pipe(Effect.provide(Layer.mergeAll(Devnet.layer({ blockTime: "20 millis" }), Crypto.layer, Sessions.layer))))

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then((result) => console.log(result))
}
