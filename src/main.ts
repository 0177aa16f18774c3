/**
 * `npm start`: the whole session-key lifecycle on the embedded devnet, told as a short story.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Redacted } from "effect"
import { Crypto, Devnet, Errors, Sessions, STARKNET_CONTRACTS } from "starknet-session-keys"

const usdc = STARKNET_CONTRACTS.USDC
const recipient = "0x5e11e7"
const formatUsdc = (raw: bigint) => `${(Number(raw) / 10 ** usdc.decimals).toFixed(6)} USDC`

const program = Effect.gen(function*() {
  const devnet = yield* Devnet.Devnet
  const userPin = Redacted.make("4821-demo-pin")

  yield* Console.log("starknet-session-keys: the session-key lifecycle on the embedded devnet\n")

  const wallet = yield* devnet.createWallet({ encryptKey: userPin, fund: { USDC: 25_000_000n } })
  const before = yield* devnet.balanceOf(usdc.contractAddress, wallet.publicKey)
  yield* Console.log(`1. Wallet ${wallet.publicKey}`)
  yield* Console.log(`   funded with ${formatUsdc(before)} (owner key stored encrypted, legacy format)`)

  const session = yield* Sessions.createSessionKey({ encryptKey: userPin, durationSeconds: 3600 })
  yield* Console.log(`2. Session key ${session.publicKey}`)
  yield* Console.log(`   valid until ${new Date(session.validUntil * 1000).toISOString()} (1 hour)`)

  const registered = yield* Sessions.registerAndWait({
    encryptKey: userPin,
    wallet,
    session,
    sessionConfig: {
      sessionPublicKey: session.publicKey,
      validUntil: session.validUntil,
      maxCalls: 1,
      allowedEntrypoints: ["transfer"]
    }
  })
  yield* Console.log(`3. Registered (owner-signed, sponsored): tx ${registered.transactionHash}`)
  yield* Console.log(`   ${registered.finalityStatus} / ${registered.executionStatus}, block ${registered.blockNumber}`)

  const amount = 1_000n // 0.001 USDC
  const calls = [{
    contractAddress: usdc.contractAddress,
    entrypoint: "transfer",
    calldata: [recipient, "0x" + amount.toString(16), "0x0"]
  }]
  const executed = yield* Sessions.executeAndWait({ encryptKey: userPin, wallet, session, calls })
  yield* Console.log(`4. Executed a ${formatUsdc(amount)} transfer with the session key: tx ${executed.transactionHash}`)
  yield* Console.log(
    `   ${executed.finalityStatus} / ${executed.executionStatus}, ${executed.events.length} event(s) (the token's Transfer, then the fee transfer)`
  )

  const data = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey })
  yield* Console.log(
    `5. Session data: active ${data.isActive}, calls ${data.callsUsed}/${data.maxCalls}, remaining ${data.remainingCalls}, allow-list of ${data.allowedEntrypointsLen}`
  )

  const refused = yield* Effect.flip(Sessions.execute({ encryptKey: userPin, wallet, session, calls }))
  yield* Console.log(`6. A second execute is refused before anything is signed or sent:`)
  yield* Console.log(`   ${refused._tag}: ${refused.message}`)
  if (!(refused instanceof Errors.MaxCallsExceeded)) return yield* Effect.die(refused)

  const revoked = yield* Sessions.revokeAndWait({ encryptKey: userPin, wallet, sessionPublicKey: session.publicKey })
  yield* Console.log(`7. Revoked: tx ${revoked.transactionHash} ${revoked.executionStatus}`)

  const after = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey })
  yield* Console.log(`8. Session data: active ${after.isActive}, valid until ${after.validUntil}, max calls ${after.maxCalls}`)

  const balance = yield* devnet.balanceOf(usdc.contractAddress, wallet.publicKey)
  const received = yield* devnet.balanceOf(usdc.contractAddress, recipient)
  yield* Console.log(`9. Balances: wallet ${formatUsdc(before)} -> ${formatUsdc(balance)}, recipient ${formatUsdc(received)}`)
  yield* Console.log(`   gas paid by the user: none (every transaction was sponsored by the paymaster)`)
})

const MainLive = Layer.mergeAll(Devnet.layer({ blockTime: "200 millis" }), Crypto.layer, Sessions.layer)

program.pipe(Effect.provide(MainLive), NodeRuntime.runMain)
