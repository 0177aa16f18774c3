/** Builds and signs outside executions by hand, to drive the devnet's contract rule by rule. */
import { Effect, Fiber, Layer, TestClock } from "effect"
import { Constants, Devnet, OutsideExecution, Paymaster, Schemas, StarknetRpc } from "starknet-session-keys"
import * as keystore from "../../src/internal/crypto/keystore.js"
import * as stark from "../../src/internal/crypto/stark.js"

export const PIN = "2580"
export const USDC = Constants.STARKNET_CONTRACTS.USDC.contractAddress
export const layer = (options: Devnet.DevnetOptions = {}) => Devnet.layer({ blockTime: "1 second", ...options })
export const start = TestClock.setTime(Date.UTC(2026, 0, 1))

const hex = (v: bigint) => ("0x" + v.toString(16)) as Schemas.Felt
export const call = (to: string, entrypoint: string, calldata: ReadonlyArray<bigint | string> = []): OutsideExecution.OutsideCall => ({
  to: hex(BigInt(to)),
  selector: Schemas.selectorOf(entrypoint),
  calldata: calldata.map((v) => hex(BigInt(v)))
})
export const transfer = (to: string, amount: bigint) => call(USDC, "transfer", [to, amount, 0n])

export interface Signer {
  readonly key: Uint8Array
  /** A session signer signs `[pubkey, r, s, validUntil]`; an owner signer `[r, s]`. */
  readonly session?: { readonly validUntil: bigint }
}

export const sessionKey = (seed: bigint) => {
  const key = Uint8Array.from(Buffer.from(seed.toString(16).padStart(64, "0"), "hex"))
  return { key, publicKey: hex(stark.publicKeyOf(key)) }
}

export interface OutsideOptions {
  readonly caller?: string
  readonly nonce?: bigint
  readonly after?: bigint
  readonly before?: bigint
  readonly form?: "u128" | "felt"
  readonly corrupt?: boolean
  readonly signatureOverride?: ReadonlyArray<bigint>
}

let nonceCounter = 1000n

/** The signed calldata of `execute_from_outside_v2` for these calls. */
export const signOutside = (account: string, calls: ReadonlyArray<OutsideExecution.OutsideCall>, signer: Signer, options: OutsideOptions = {}) =>
  Effect.gen(function*() {
    const devnet = yield* Devnet.Devnet
    const now = BigInt(yield* devnet.blockTimestamp)
    const oe: OutsideExecution.OutsideExecution = {
      caller: (options.caller ?? Constants.ANY_CALLER) as Schemas.Felt,
      nonce: hex(options.nonce ?? nonceCounter++),
      executeAfter: options.after ?? now - 10n,
      executeBefore: options.before ?? now + 600n,
      calls
    }
    const h = BigInt(OutsideExecution.messageHash(devnet.chainId, account, oe, options.form ?? "u128"))
    const { r, s } = stark.sign(h, signer.key)
    const sig = options.signatureOverride ?? (signer.session !== undefined
      ? [stark.publicKeyOf(signer.key), options.corrupt ? r + 1n : r, s, signer.session.validUntil]
      : [options.corrupt ? r + 1n : r, s])
    return { oe, calldata: OutsideExecution.executeFromOutsideCalldata(oe, sig.map(hex)), signature: sig.map(hex) }
  })

/** Submits through the paymaster (which simulates): the revert reason, or the tx hash. */
export const submit = (account: string, calls: ReadonlyArray<OutsideExecution.OutsideCall>, signer: Signer, options: OutsideOptions = {}) =>
  Effect.gen(function*() {
    const devnet = yield* Devnet.Devnet
    const paymaster = yield* Paymaster.Paymaster
    const { oe, signature } = yield* signOutside(account, calls, signer, options)
    return yield* paymaster.executeTransaction({
      userAddress: account as Schemas.Address,
      typedData: OutsideExecution.toTypedData(devnet.chainId, oe),
      signature
    }).pipe(
      Effect.map((r) => ({ ok: true as const, txHash: r.transactionHash, reason: undefined })),
      Effect.catchTag("PaymasterError", (e) => Effect.succeed({ ok: false as const, txHash: undefined, reason: e.revertReason }))
    )
  })

/** Moves time until a block has closed with everything pending. */
export const nextBlock = Effect.gen(function*() {
  yield* TestClock.adjust("1 second")
})

/** A funded wallet with its owner key at hand. */
export const wallet = Effect.gen(function*() {
  const devnet = yield* Devnet.Devnet
  const data = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
  const owner: Signer = { key: keystore.decryptLegacy(data.encryptedPrivateKey, PIN) }
  return { address: data.publicKey, owner, data }
})

/** Submits an owner-signed self-call and closes a block. */
export const ownerCall = (account: string, owner: Signer, entrypoint: string, calldata: ReadonlyArray<bigint | string>) =>
  Effect.gen(function*() {
    const result = yield* submit(account, [call(account, entrypoint, calldata)], owner)
    if (!result.ok) return yield* Effect.dieMessage(`owner call ${entrypoint} refused: ${result.reason}`)
    yield* nextBlock
    return result.txHash
  })

export const register = (
  account: string,
  owner: Signer,
  sessionPublicKey: string,
  validUntil: bigint,
  maxCalls: bigint,
  allowed: ReadonlyArray<string> = []
) => ownerCall(account, owner, "add_or_update_session_key", [sessionPublicKey, validUntil, maxCalls, BigInt(allowed.length), ...allowed.map(Schemas.selectorOf)])

export const status = (txHash: string) => Effect.flatMap(StarknetRpc.StarknetRpc, (rpc) => rpc.getTransactionStatus(txHash as Schemas.TxHash))

export const viewCall = (contract: string, entrypoint: string, calldata: ReadonlyArray<bigint | string> = []) =>
  Effect.flatMap(StarknetRpc.StarknetRpc, (rpc) =>
    rpc.call({ contractAddress: contract as Schemas.Address, entrypoint, calldata: calldata.map((v) => hex(BigInt(v))) }))

/** Forks `effect`, moves the clock until it ends. */
export const whileBlocks = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < 120 && (yield* Fiber.poll(fiber))._tag === "None"; i++) yield* TestClock.adjust("1 second")
    return yield* Fiber.join(fiber)
  })

export type DevnetLayer = Layer.Layer<Devnet.Devnet | StarknetRpc.StarknetRpc | Paymaster.Paymaster>
