/**
 * Spending policies: per-token limits on what a session may transfer or approve, set and removed owner-signed (behind
 * the replay guard when the change can revive refused payloads), and read with what they leave now. Re-exported by
 * `Sessions`.
 *
 * @since 0.1.0
 */
import { Effect, ParseResult, Schema } from "effect"
import type { Crypto } from "../../Crypto.js"
import { InvalidInput, type RpcError } from "../../Errors.js"
import type { Ledger, Payment } from "../../Ledger.js"
import type { Paymaster } from "../../Paymaster.js"
import { Address, callSelector, decode, Felt, type TxHash, WalletData } from "../../Schemas.js"
import { type Receipt, StarknetRpc } from "../../StarknetRpc.js"
import * as Transactions from "../../Transactions.js"
import { integerOf, toHex, U64_MAX } from "../crypto/felt.js"
import type {
  Options,
  Pin,
  RegisterError,
  RegisterOptions,
  SpendingPolicyConfig,
  SpendingPolicyData,
  WaitError
} from "../../Sessions.js"
import { objectParams, retrying, windowOptions } from "./lifecycle.js"
import { ownerSubmit, revivingChange } from "../payments/owner.js"
import { readPolicy } from "../account/preflight.js"
import { allowance, splitU256, TRACKED_SELECTORS, U256_MAX, windowOverflowsAt } from "../account/spending.js"

const amountInput = (name: string) =>
  Schema.transformOrFail(Schema.Union(Schema.BigIntFromSelf, Schema.String, Schema.Number), Schema.BigIntFromSelf, {
    strict: true,
    decode: (input, _, ast) => {
      const value = integerOf(input)
      if (value === undefined) return ParseResult.fail(new ParseResult.Type(ast, input, `${name} must be an integer (a bigint, 0x-hex or decimal)`))
      if (value < 0n || value > U256_MAX) return ParseResult.fail(new ParseResult.Type(ast, input, `${name} must fit in u256`))
      return ParseResult.succeed(value)
    },
    encode: (value) => ParseResult.succeed(value)
  })

const SpendingPolicyConfigSchema = Schema.Struct({
  sessionPublicKey: Felt,
  token: Address,
  maxPerCall: amountInput("maxPerCall"),
  maxPerWindow: amountInput("maxPerWindow"),
  windowSeconds: Schema.transformOrFail(Schema.Union(Schema.Number, Schema.BigIntFromSelf), Schema.BigIntFromSelf, {
    strict: true,
    decode: (input, _, ast) => {
      if (typeof input === "number" && !Number.isSafeInteger(input)) {
        return ParseResult.fail(new ParseResult.Type(ast, input, "windowSeconds must be an integer"))
      }
      const value = BigInt(input)
      return value <= 0n || value > U64_MAX
        ? ParseResult.fail(new ParseResult.Type(ast, input, "windowSeconds must be a positive integer that fits in u64"))
        : ParseResult.succeed(value)
    },
    encode: (value) => ParseResult.succeed(value)
  })
})

/** A chain refusal for a spending limit (or the overflows the account raises while counting). */
const SPENDING_REFUSAL = /Spending: |u64_add Overflow|u256_add Overflow/

/**
 * A policy change of a session and token, behind the same fence and guard as a re-registration when it can revive
 * payloads: a token that has a policy gets a fresh window (spent 0) from `set_spending_policy`, and none at all from
 * `remove_spending_policy`, so a payload the chain refused for that token's limit could then run. A first policy
 * (the session had no limit on the token) revives nothing, nor does any change for payloads refused for other
 * reasons.
 */
const policyChange = (
  params: { readonly encryptKey: Pin; readonly wallet: unknown },
  wallet: Address,
  entrypoint: "set_spending_policy" | "remove_spending_policy",
  calldata: ReadonlyArray<Felt>,
  sessionPublicKey: Felt,
  token: Address,
  options: RegisterOptions
) =>
  Effect.gen(function*() {
    const current = yield* readPolicy(wallet, sessionPublicKey, token, options.retry)
    if (current.maxPerWindow === 0n) return yield* ownerSubmit(params, entrypoint, calldata, sessionPublicKey, undefined, options)
    const revivable = (p: Payment) =>
      (p.status === "refused" || p.status === "reverted") && SPENDING_REFUSAL.test(p.reason ?? "") &&
      p.calls.some((call) => BigInt(call.contractAddress) === BigInt(token) && TRACKED_SELECTORS.has(BigInt(callSelector(call))))
    return yield* revivingChange(params, { wallet, sessionPublicKey }, entrypoint, calldata, undefined, options, revivable)
  })

/** A refused policy input carries the SDK's code for it. */
const invalidAt = (path: string, rule: string) => new InvalidInput({ path, rule, issues: [{ path, rule }], code: "INVALID_SPENDING_POLICY" })
const asPolicyInput = (error: InvalidInput) => new InvalidInput({ ...error, code: "INVALID_SPENDING_POLICY" })

/**
 * The calldata of `set_spending_policy` for a policy, checked as `setSpendingPolicy` checks it (nothing is signed
 * here): amounts fit u256, `maxPerWindow > 0`, `maxPerCall <= maxPerWindow`, and the window's end fits u64 when the
 * call is included at `latestInclusion` (block time, seconds; read only once the amounts are known to be good). For
 * an owner-signed multicall that sets a policy along with other calls of the account on itself, such as the
 * registration of the session it limits.
 *
 * @since 0.1.0
 * @category spending
 */
export const spendingPolicyCalldata = <E, R>(
  spendingPolicyConfig: SpendingPolicyConfig,
  latestInclusion: Effect.Effect<number, E, R>
): Effect.Effect<
  {
    readonly sessionPublicKey: Felt
    readonly token: Address
    readonly maxPerCall: bigint
    readonly maxPerWindow: bigint
    readonly windowSeconds: bigint
    readonly calldata: ReadonlyArray<Felt>
  },
  InvalidInput | E,
  R
> =>
  Effect.gen(function*() {
    const config = yield* decode(SpendingPolicyConfigSchema, "spendingPolicyConfig")(spendingPolicyConfig).pipe(
      Effect.mapError(asPolicyInput)
    )
    yield* Effect.annotateCurrentSpan({ sessionPublicKey: config.sessionPublicKey, token: config.token })
    if (config.maxPerWindow === 0n) {
      return yield* invalidAt(
        "spendingPolicyConfig.maxPerWindow",
        "maxPerWindow must be above 0 (the account treats 0 as no policy; removeSpendingPolicy removes one)"
      )
    }
    if (config.maxPerCall > config.maxPerWindow) {
      return yield* invalidAt(
        "spendingPolicyConfig.maxPerCall",
        `maxPerCall (${config.maxPerCall}) cannot exceed maxPerWindow (${config.maxPerWindow})`
      )
    }
    if (windowOverflowsAt(config.windowSeconds, BigInt(yield* latestInclusion))) {
      return yield* invalidAt(
        "spendingPolicyConfig.windowSeconds",
        `windowSeconds ${config.windowSeconds} makes the window's end overflow u64; the account would refuse every call it limits`
      )
    }
    return {
      ...config,
      calldata: [
        config.sessionPublicKey,
        config.token,
        ...splitU256(config.maxPerCall),
        ...splitU256(config.maxPerWindow),
        toHex(config.windowSeconds) as Felt
      ]
    }
  })

/**
 * Sets a session's spending policy for a token: an owner-signed, sponsored `set_spending_policy` (it starts a fresh
 * window, nothing spent, at inclusion). The account then refuses any execute of the session whose `transfer`,
 * `approve`, `increase_allowance` or `increaseAllowance` calls on that token exceed it, and `execute` refuses such
 * calls before signing (`SpendingLimitExceeded`). Checked first, nothing signed otherwise: amounts fit u256,
 * `maxPerWindow > 0` (0 is no policy: use `removeSpendingPolicy`), `maxPerCall <= maxPerWindow`, `windowSeconds` a
 * positive integer whose window end fits u64 at the latest time the transaction can be included. On a token that
 * already has a policy, payloads the chain refused for its limit that are still inside their windows would run
 * under the new one: it fails with `LivePayloads` while the `Ledger` holds any (or waits, `waitForLivePayloads`).
 *
 * @since 0.1.0
 * @category spending
 */
export const setSpendingPolicy = (
  params: {
    readonly encryptKey: Pin
    readonly wallet: { readonly publicKey: string; readonly encryptedPrivateKey: string }
    readonly spendingPolicyConfig: SpendingPolicyConfig
  },
  options: RegisterOptions = {}
): Effect.Effect<TxHash, RegisterError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    yield* objectParams(params)
    const rpc = yield* StarknetRpc
    const policy = yield* spendingPolicyCalldata(
      params.spendingPolicyConfig,
      Effect.gen(function*() {
        const { validity, tolerance } = yield* windowOptions(options)
        const block = yield* retrying(rpc.latestBlock, options.retry)
        // The window starts at inclusion, at the latest when the signed outside execution stops being valid.
        return block.timestamp + validity + tolerance
      })
    )
    const wallet = yield* decode(WalletData, "wallet")(params.wallet)
    return yield* policyChange(params, wallet.publicKey, "set_spending_policy", policy.calldata, policy.sessionPublicKey, policy.token, options)
  }).pipe(Effect.withSpan("Sessions.setSpendingPolicy"))

/**
 * Removes a session's spending policy for a token: an owner-signed, sponsored `remove_spending_policy`. The session
 * then has no limit on that token's amounts. Held back by live payloads refused for that limit, as `setSpendingPolicy`.
 *
 * @since 0.1.0
 * @category spending
 */
export const removeSpendingPolicy = (
  params: {
    readonly encryptKey: Pin
    readonly wallet: { readonly publicKey: string; readonly encryptedPrivateKey: string }
    readonly sessionPublicKey: string
    readonly token: string
  },
  options: RegisterOptions = {}
): Effect.Effect<TxHash, RegisterError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    yield* objectParams(params)
    const sessionPublicKey = yield* decode(Felt, "sessionPublicKey")(params.sessionPublicKey).pipe(Effect.mapError(asPolicyInput))
    const token = yield* decode(Address, "token")(params.token).pipe(Effect.mapError(asPolicyInput))
    yield* Effect.annotateCurrentSpan({ sessionPublicKey, token })
    const wallet = yield* decode(WalletData, "wallet")(params.wallet)
    return yield* policyChange(params, wallet.publicKey, "remove_spending_policy", [sessionPublicKey, token], sessionPublicKey, token, options)
  }).pipe(Effect.withSpan("Sessions.removeSpendingPolicy"))

/**
 * Reads a session's spending policy for a token (`get_spending_policy`), with what it leaves at the latest block's
 * time. All zero means no policy (also on an account without the extension).
 *
 * @since 0.1.0
 * @category spending
 */
export const getSpendingPolicy = (
  params: { readonly walletAddress: string; readonly sessionPublicKey: string; readonly token: string },
  options: Pick<Options, "retry"> = {}
): Effect.Effect<SpendingPolicyData, InvalidInput | RpcError, StarknetRpc> =>
  Effect.gen(function*() {
    yield* objectParams(params)
    const walletAddress = yield* decode(Address, "walletAddress")(params.walletAddress)
    const sessionPublicKey = yield* decode(Felt, "sessionPublicKey")(params.sessionPublicKey)
    const token = yield* decode(Address, "token")(params.token)
    const rpc = yield* StarknetRpc
    const [policy, block] = yield* Effect.all([
      readPolicy(walletAddress, sessionPublicKey, token, options.retry),
      retrying(rpc.latestBlock, options.retry)
    ], { concurrency: "unbounded" })
    const { remainingInWindow, windowResetsAt } = allowance(policy, BigInt(block.timestamp))
    return {
      maxPerCall: policy.maxPerCall,
      maxPerWindow: policy.maxPerWindow,
      windowSeconds: Number(policy.windowSeconds),
      spentInWindow: policy.spentInWindow,
      windowStart: Number(policy.windowStart),
      remainingInWindow,
      windowResetsAt
    }
  })

/**
 * `setSpendingPolicy`, then wait for the transaction to succeed.
 *
 * @since 0.1.0
 * @category spending
 */
export const setSpendingPolicyAndWait = (
  params: Parameters<typeof setSpendingPolicy>[0],
  options: RegisterOptions & { readonly wait?: Transactions.WaitOptions } = {}
): Effect.Effect<Receipt, RegisterError | WaitError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.flatMap(setSpendingPolicy(params, options), (hash) => Transactions.wait(hash, options.wait))

/**
 * `removeSpendingPolicy`, then wait for the transaction to succeed.
 *
 * @since 0.1.0
 * @category spending
 */
export const removeSpendingPolicyAndWait = (
  params: Parameters<typeof removeSpendingPolicy>[0],
  options: RegisterOptions & { readonly wait?: Transactions.WaitOptions } = {}
): Effect.Effect<Receipt, RegisterError | WaitError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.flatMap(removeSpendingPolicy(params, options), (hash) => Transactions.wait(hash, options.wait))
