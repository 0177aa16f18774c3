/**
 * The devnet's control handle: wallets, minting, time, inspection, the direct path and the faults.
 */
import * as nodeCrypto from "node:crypto"
import { Duration, Effect, Redacted } from "effect"
import { STARKNET_CONTRACTS } from "../Constants.js"
import { InvalidInput, PaymasterError, RpcError } from "../Errors.js"
import { Rejected, Revert } from "./revert.js"
import { encryptLegacy, encryptV1 } from "../internal/crypto/keystore.js"
import * as stark from "../internal/crypto/stark.js"
import { type Address, callSelector, type TxHash } from "../Schemas.js"
import { type FaultGate, faultMessage } from "./faults.js"
import { blockNotFound } from "./rpc.js"
import { felt, type Node } from "./node.js"
import { ZERO_FEE_FIELDS } from "./transactions.js"
import { nextTurn } from "./turn.js"
import type { DevnetHandle, DevnetOptions, InvokeParams } from "./types.js"

const U64 = 2n ** 64n
const U128 = 2n ** 128n

/** The chain's payload of an invoke; a bound or tip out of its range is a defect, as a malformed hash would be. */

const U256_MAX = 2n ** 256n - 1n
/** Longest PIN accepted (as the served `devnet_createWallet`). */
const PIN_MAX = 1_024

const invalidInput = (path: string, rule: string) => new InvalidInput({ path, rule, issues: [{ path, rule }] })

/** What is wrong with `createWallet`'s parameters, if anything: checked before a key is made or a wallet deployed. */
const walletParamsRefusal = (params: unknown): InvalidInput | undefined => {
  if (typeof params !== "object" || params === null) return invalidInput("", "parameters must be an object")
  const p = params as Record<string, unknown>
  const pin = Redacted.isRedacted(p["encryptKey"]) ? Redacted.value(p["encryptKey"]) : p["encryptKey"]
  if (typeof pin !== "string" || pin.length === 0 || pin.length > PIN_MAX) {
    return invalidInput("encryptKey", `a PIN is a non-empty string of at most ${PIN_MAX} characters`)
  }
  if (p["keyFormat"] !== undefined && p["keyFormat"] !== "legacy" && p["keyFormat"] !== "v1") return invalidInput("keyFormat", "\"legacy\" or \"v1\"")
  const fund = p["fund"]
  if (fund === undefined) return undefined
  if (typeof fund !== "object" || fund === null) return invalidInput("fund", "an object of amounts by token symbol")
  for (const [symbol, amount] of Object.entries(fund)) {
    if (symbol !== "USDC" && symbol !== "STRK") return invalidInput(`fund.${symbol}`, "the devnet funds USDC and STRK")
    if (amount !== undefined && (typeof amount !== "bigint" || amount < 0n || amount > U256_MAX)) {
      return invalidInput(`fund.${symbol}`, "an amount is a bigint from 0 to 2^256 - 1")
    }
  }
  return undefined
}

export const invokePayload = (params: InvokeParams) =>
  Effect.suspend(() => {
    const zero = ZERO_FEE_FIELDS.resourceBounds.l1Gas
    const b = params.resourceBounds ?? { l1Gas: zero, l2Gas: zero, l1DataGas: zero }
    const tip = params.tip ?? 0n
    for (const { maxAmount, maxPricePerUnit } of [b.l1Gas, b.l2Gas, b.l1DataGas]) {
      if (maxAmount < 0n || maxAmount >= U64 || maxPricePerUnit < 0n || maxPricePerUnit >= U128) {
        return Effect.dieMessage("invoke: a resource bound's max_amount is a u64 and its max_price_per_unit a u128")
      }
    }
    if (tip < 0n || tip >= U64) return Effect.dieMessage("invoke: the tip is a u64")
    return Effect.succeed({
      kind: "invoke" as const,
      account: BigInt(params.account),
      calls: params.calls,
      signature: params.signature.map(BigInt),
      nonce: params.nonce,
      fields: {
        resourceBounds: b,
        tip,
        paymasterData: (params.paymasterData ?? []).map(BigInt),
        accountDeploymentData: (params.accountDeploymentData ?? []).map(BigInt),
        nonceDataAvailabilityMode: params.nonceDataAvailabilityMode ?? "L1",
        feeDataAvailabilityMode: params.feeDataAvailabilityMode ?? "L1"
      }
    })
  })

/** A new wallet's private key: random, or with a seed the next of a reproducible sequence. */
const walletKeys = (seed: string | undefined) => {
  let walletCounter = 0
  return (): Uint8Array => {
    if (seed === undefined) {
      for (;;) {
        const bytes = nodeCrypto.randomBytes(32)
        bytes[0] = bytes[0]! & 0x07
        const value = BigInt("0x" + bytes.toString("hex"))
        if (value > 0n && value < stark.CURVE_ORDER) return Uint8Array.from(bytes)
      }
    }
    const digest = nodeCrypto.createHash("sha256").update(`${seed}:wallet:${walletCounter++}`).digest()
    const value = (BigInt("0x" + digest.toString("hex")) % (stark.CURVE_ORDER - 1n)) + 1n
    return Uint8Array.from(Buffer.from(value.toString(16).padStart(64, "0"), "hex"))
  }
}

/** `createWallet`: the key sealed under the PIN, the account deployed and funded; the key wiped after. */
const createWallet = (node: Node, options: DevnetOptions, walletKey: () => Uint8Array): DevnetHandle["createWallet"] => (params) =>
  Effect.suspend(() => {
    const { catchUp, chain } = node
    const refused = walletParamsRefusal(params)
    if (refused !== undefined) return Effect.fail(refused)
    const pin = Redacted.isRedacted(params.encryptKey) ? Redacted.value(params.encryptKey) : params.encryptKey
    const key = walletKey()
    return Effect.gen(function*() {
      yield* catchUp
      const publicKey = stark.publicKeyOf(key)
      // The key and the address take some 25 ms of curve arithmetic in all: a turn of the event loop after the
      // key and after each of the address's Pedersen hashes lets a served devnet answer others meanwhile.
      yield* nextTurn
      // With a seed, addresses are reproducible too.
      const salt = options.seed === undefined ? BigInt("0x" + nodeCrypto.randomBytes(16).toString("hex")) : publicKey
      // The key is sealed before the account exists, so a failure leaves no wallet behind. scrypt runs off
      // the event loop: other requests go on while it works.
      const encryptedPrivateKey = params.keyFormat === "v1"
        ? yield* encryptV1(key, felt(publicKey), pin)
        : encryptLegacy("0x" + Buffer.from(key).toString("hex"), pin)
      const steps = chain.accountAddressSteps(publicKey, salt)
      let step = steps.next()
      while (step.done !== true) {
        yield* nextTurn
        step = steps.next()
      }
      // Blocks may have closed meanwhile: the account is deployed in the block being built now.
      yield* catchUp
      const address = chain.deployAccountAt(step.value, publicKey)
      for (const [symbol, amount] of Object.entries(params.fund ?? {})) {
        const token = STARKNET_CONTRACTS[symbol as keyof typeof STARKNET_CONTRACTS]
        if (token !== undefined && amount !== undefined && amount > 0n) chain.mint(BigInt(token.contractAddress), address, amount)
      }
      return { publicKey: felt(address) as Address, encryptedPrivateKey, walletType: "CHIPI" as const }
    }).pipe(Effect.ensuring(Effect.sync(() => key.fill(0))))
  })

/** `invoke` on the direct path: validated at submission as a node's mempool does, then pooled. */
const invokeOn = (node: Node): DevnetHandle["invoke"] => (params) =>
  Effect.gen(function*() {
    yield* node.catchUp
    const payload = yield* invokePayload(params)
    // Validation runs at submission: a transaction that fails it is refused, never included. One that only
    // reverts in `__execute__` is accepted and reverts in its block (its nonce and session count stand). As a
    // node's mempool, it is validated on the latest state with the account's next nonce counting its pending
    // invokes (what `getNonce` answers at pre_confirmed): a nonce one of them holds is refused with 52.
    const now = yield* node.nowSeconds
    try {
      node.chain.admit(payload, now)
    } catch (error) {
      if (error instanceof Rejected) {
        return yield* new PaymasterError({
          code: error.code,
          message: error.code === 52
            ? `Invalid transaction nonce (INVALID_TRANSACTION_NONCE): ${error.reason}`
            : `Account validation failed (VALIDATION_FAILURE): ${error.reason}`,
          revertReason: error.reason
        })
      }
      if (!(error instanceof Revert)) throw error
    }
    return node.enqueue(payload)
  })

export const make = (node: Node, faults: FaultGate, options: DevnetOptions): DevnetHandle => {
  const { catchUp, chain, relayer } = node
  const control = <A>(f: () => A) => Effect.zipRight(catchUp, Effect.sync(f))

  return {
    chainId: felt(node.chainId),
    relayer: felt(relayer) as Address,
    createWallet: createWallet(node, options, walletKeys(options.seed)),
    mint: (token, to, amount) =>
      Effect.suspend(() => {
        if (typeof amount !== "bigint" || amount < 0n || amount > U256_MAX) {
          return Effect.fail(invalidInput("amount", "an amount is a bigint from 0 to 2^256 - 1"))
        }
        return Effect.zipRight(catchUp, Effect.suspend(() => {
          // A u256 balance (and supply) cannot pass 2^256 - 1: a mint that would is refused, nothing minted.
          const refusal = chain.mintRefusal(BigInt(token), BigInt(to), amount)
          return refusal === undefined ? Effect.sync(() => chain.mint(BigInt(token), BigInt(to), amount)) : Effect.fail(invalidInput("amount", refusal))
        }))
      }),
    balanceOf: (token, account) =>
      control(() => {
        const [low, high] = chain.dryRun(BigInt(chain.latest.timestamp), () =>
          chain.call(0n, BigInt(token), BigInt(callSelector({ entrypoint: "balance_of" })), [BigInt(account)]))
        return (high! << 128n) | low!
      }),
    advanceTime: (by) =>
      Effect.suspend(() => {
        const millis = Duration.toMillis(Duration.decode(by))
        // An infinite jump would leave the clock, and every block after it, unusable for good.
        return Number.isFinite(millis) && millis >= 0
          ? Effect.zipRight(Effect.sync(() => node.advance(millis)), catchUp)
          : Effect.dieMessage(`advanceTime: a finite, non-negative duration, got ${millis} ms`)
      }),
    mineBlock: Effect.gen(function*() {
      yield* catchUp
      const now = yield* node.nowMillis
      chain.closeBlock(chain.latest.number + 1, Math.max(chain.latest.timestamp, Math.floor(now / 1000)))
      node.closedAt(chain.latest.number, now)
      return { blockNumber: chain.latest.number, timestamp: chain.latest.timestamp }
    }),
    blockNumber: control(() => chain.latest.number),
    blockTimestamp: control(() => chain.latest.timestamp),
    sessionData: (account, key) =>
      control(() => {
        const s = chain.account(BigInt(account))?.sessions.get(BigInt(key))
        return s === undefined ? [0n, 0n, 0n, 0n] : [s.validUntil, s.maxCalls, s.callsUsed, BigInt(s.allowed.length)]
      }),
    allowedEntrypoints: (account, key) =>
      control(() => (chain.account(BigInt(account))?.sessions.get(BigInt(key))?.allowed ?? []).map(felt)),
    block: (id) =>
      faults.gate(
        "starknet_getBlockWithTxs",
        (code) => new RpcError({ method: "starknet_getBlockWithTxs", code, message: faultMessage(code), transient: true }),
        catchUp,
        Effect.suspend(() => {
          const block = node.block(id)
          return block === undefined ? Effect.fail(blockNotFound("starknet_getBlockWithTxs")) : Effect.succeed(block)
        })
      ),
    transactions: control(() => [...chain.txs.values()].map((tx) => ({ hash: felt(tx.hash) as TxHash, status: node.statusOf(tx) }))),
    invoke: invokeOn(node),
    invokeHash: (params) => Effect.map(invokePayload({ ...params, signature: [] }), (payload) => felt(chain.hashOf(payload)) as TxHash),
    submitOutside: (account, calldata) =>
      control(() => node.enqueue({ kind: "outside", relayer, account: BigInt(account), calldata: calldata.map(BigInt) })),
    setFaults: (next) =>
      Effect.zipRight(
        catchUp,
        Effect.sync(() => {
          if ((next.readLagBlocks ?? 0) > 0 && (faults.current().readLagBlocks ?? 0) === 0) node.beginLag()
          faults.merge(next)
        })
      ),
    clearFaults: Effect.sync(() => {
      faults.clear()
      node.endLag()
    }),
    requestCount: Effect.sync(() => faults.requests()),
    faults: Effect.sync(() => faults.current())
  }
}

