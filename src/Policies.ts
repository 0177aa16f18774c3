/**
 * Policies: rules over the calls of a payment, checked by this library before anything is signed, on top of the
 * account's own rules (its allow-list of selectors and per-token spending caps, which hold on chain).
 *
 * - `allowedCalls`: the only `(contract, entrypoint)` pairs a payment may call.
 * - `allowedRecipients` / `deniedRecipients`: who may receive (or be approved to spend) tokens, read from the
 *   calldata as the ERC-20 ABI lays it out (`transfer(recipient, amount)`, `approve(spender, amount)`,
 *   `increase_allowance` / `increaseAllowance(spender, added)`, `transfer_from` / `transferFrom(sender, recipient,
 *   amount)`, amounts as u256 `[low, high]`).
 * - `maxAmountPerCall`: per token, the largest amount one call may move or approve.
 * - `maxCalls`: the most calls one payment may make.
 * - `budgets`: per token, the most the wallet's payments may move over a rolling window, counted across every
 *   session of the wallet and every instance sharing the `Ledger` (recorded in the same atomic step as the payment).
 * - `predicates`: custom rules, as Effects over each call.
 *
 * A policy attaches to a session key (`attach`, stored in the `Ledger`) and/or to wallets (`layer`); every policy
 * that applies must let a payment through. A violation is `PolicyViolation` naming the rule and the call: nothing is
 * signed and no call of the session is used.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option, ParseResult, Schema } from "effect"
import { InvalidInput, LedgerError, PolicyViolation, WalletHalted } from "./Errors.js"
import { integerOf, toHex } from "./internal/crypto/felt.js"
import { U256_MAX } from "./internal/account/spending.js"
import { moveOf } from "./internal/policies/calls.js"
import { type BudgetCharge, budgetRefusal, Ledger } from "./Ledger.js"
import { Address, type Call, callSelector, decode, Entrypoint, Felt } from "./Schemas.js"

// ---------------------------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------------------------


/**
 * A token amount: a bigint, a safe integer, or decimal / 0x-hex text, at most 2^256 - 1. Encoded as decimal text.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Amount = Schema.transformOrFail(
  Schema.Union(Schema.String, Schema.Number, Schema.BigIntFromSelf),
  Schema.BigIntFromSelf,
  {
    strict: false,
    decode: (input, _, ast) => {
      const value = integerOf(input)
      return value !== undefined && value >= 0n && value <= U256_MAX
        ? ParseResult.succeed(value)
        : ParseResult.fail(new ParseResult.Type(ast, input, "an amount is an integer from 0 to 2^256 - 1"))
    },
    encode: (value) => ParseResult.succeed(value.toString())
  }
).annotations({ identifier: "Amount" })

const WindowSeconds = Schema.Number.pipe(
  Schema.int({ message: () => "windowSeconds must be an integer" }),
  Schema.between(1, 366 * 86_400, { message: () => "windowSeconds must be from 1 s to 366 days" })
)

/**
 * The serialisable rules of a policy (what is stored with a session). Every field is optional: a rule absent does
 * not apply.
 *
 * @since 0.1.0
 * @category schemas
 */
export const PolicyRules = Schema.Struct({
  allowedCalls: Schema.optional(Schema.Array(Schema.Struct({ contractAddress: Address, entrypoint: Entrypoint }))),
  allowedRecipients: Schema.optional(Schema.Array(Address)),
  deniedRecipients: Schema.optional(Schema.Array(Address)),
  maxAmountPerCall: Schema.optional(Schema.Array(Schema.Struct({ token: Address, amount: Amount }))),
  maxCalls: Schema.optional(Schema.Number.pipe(
    Schema.int({ message: () => "maxCalls must be an integer" }),
    Schema.positive({ message: () => "maxCalls must be at least 1" })
  )),
  budgets: Schema.optional(Schema.Array(Schema.Struct({ token: Address, amount: Amount, windowSeconds: WindowSeconds })))
}).annotations({ identifier: "PolicyRules" })
/** @since 0.1.0 */
export type PolicyRules = typeof PolicyRules.Type

/**
 * What a custom rule sees besides the call.
 *
 * @since 0.1.0
 * @category models
 */
export interface CheckContext {
  readonly wallet: Address
  readonly sessionPublicKey: Felt
  readonly calls: ReadonlyArray<Call>
}

/**
 * A custom rule: `check` answers whether the call may go. A `false` is `PolicyViolation` with rule
 * `custom:<name>`. Not serialisable: custom rules attach to wallets (`layer`), not to stored sessions.
 *
 * @since 0.1.0
 * @category models
 */
export interface Predicate {
  readonly name: string
  readonly check: (call: Call, callIndex: number, context: CheckContext) => Effect.Effect<boolean>
}

/**
 * A policy: its rules and custom predicates.
 *
 * @since 0.1.0
 * @category models
 */
export interface Policy extends PolicyRules {
  readonly predicates?: ReadonlyArray<Predicate>
}

/**
 * A policy as given by a caller: amounts as bigints, numbers or text, addresses as hex.
 *
 * @since 0.1.0
 * @category models
 */
export type PolicyInput = typeof PolicyRules.Encoded & { readonly predicates?: ReadonlyArray<Predicate> }

/**
 * Decodes a policy given by a caller; `InvalidInput` names the field.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodePolicy = (input: unknown, path = "policy"): Effect.Effect<Policy, InvalidInput> =>
  Effect.gen(function*() {
    if (typeof input !== "object" || input === null) {
      return yield* new InvalidInput({ path, rule: "a policy is an object", issues: [{ path, rule: "a policy is an object" }] })
    }
    const rules = yield* decode(PolicyRules, path)(input)
    const predicates = (input as { readonly predicates?: unknown }).predicates
    if (predicates === undefined) return rules
    if (
      !Array.isArray(predicates) ||
      !predicates.every((p) => typeof p === "object" && p !== null && typeof p.name === "string" && typeof p.check === "function")
    ) {
      const rule = "predicates is a list of { name, check }"
      return yield* new InvalidInput({ path: `${path}.predicates`, rule, issues: [{ path: `${path}.predicates`, rule }] })
    }
    return { ...rules, predicates: predicates as ReadonlyArray<Predicate> }
  })

// ---------------------------------------------------------------------------------------------------------------
// Where policies come from
// ---------------------------------------------------------------------------------------------------------------

/**
 * The policies of wallets, configured in the process (every instance configures the same; budgets are counted in
 * the shared `Ledger`). Optional: without it, only the policies attached to sessions apply.
 *
 * @since 0.1.0
 * @category tags
 */
export class WalletPolicies extends Context.Tag("starknet-session-keys/WalletPolicies")<
  WalletPolicies,
  { readonly forWallet: (wallet: Address) => ReadonlyArray<Policy> }
>() {}

/**
 * Wallet policies: for every wallet (`all`) and for given wallets (`wallets`, keyed by address).
 *
 * @since 0.1.0
 * @category models
 */
export interface WalletPoliciesConfig {
  readonly all?: PolicyInput
  readonly wallets?: Readonly<Record<string, PolicyInput>>
}

/**
 * Builds the wallet policies of a config; fails with `InvalidInput` naming a policy that is not valid.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (config: WalletPoliciesConfig): Effect.Effect<WalletPolicies["Type"], InvalidInput> =>
  Effect.gen(function*() {
    if (typeof config !== "object" || config === null) {
      return yield* new InvalidInput({ path: "policies", rule: "must be an object", issues: [{ path: "policies", rule: "must be an object" }] })
    }
    const all = config.all === undefined ? [] : [yield* decodePolicy(config.all, "all")]
    const byWallet = new Map<bigint, Array<Policy>>()
    for (const [address, input] of Object.entries(config.wallets ?? {})) {
      const wallet = yield* decode(Address, `wallets.${address}`)(address)
      const policy = yield* decodePolicy(input, `wallets.${address}`)
      byWallet.set(BigInt(wallet), [...(byWallet.get(BigInt(wallet)) ?? []), policy])
    }
    return WalletPolicies.of({ forWallet: (wallet) => [...all, ...(byWallet.get(BigInt(wallet)) ?? [])] })
  })

/**
 * The wallet policies of a config, as a layer. Fails with `InvalidInput` when a policy is not valid.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: WalletPoliciesConfig): Layer.Layer<WalletPolicies, InvalidInput> => Layer.effect(WalletPolicies, make(config))

const encodeRules = Schema.encodeSync(Schema.parseJson(PolicyRules))
const decodeRules = Schema.decodeUnknown(Schema.parseJson(PolicyRules))

/**
 * Attaches a policy to a session key, stored in the `Ledger` (so every instance on a shared ledger applies it).
 * Only the serialisable rules are stored: custom predicates are refused here (attach them to the wallet with
 * `layer`). Replaces a policy attached before.
 *
 * @since 0.1.0
 * @category attaching
 */
export const attach = (params: {
  readonly sessionPublicKey: string
  readonly policy: PolicyInput
}): Effect.Effect<void, InvalidInput | LedgerError, Ledger> =>
  Effect.gen(function*() {
    const sessionPublicKey = yield* decode(Felt, "sessionPublicKey")(params?.sessionPublicKey)
    const policy = yield* decodePolicy(params.policy)
    if (policy.predicates !== undefined) {
      const rule = "custom predicates cannot be stored with a session; attach them to the wallet (Policies.layer)"
      return yield* new InvalidInput({ path: "policy.predicates", rule, issues: [{ path: "policy.predicates", rule }] })
    }
    const ledger = yield* Ledger
    yield* ledger.setSessionPolicy(sessionPublicKey, encodeRules(policy))
  })

/**
 * Detaches the policy of a session key.
 *
 * @since 0.1.0
 * @category attaching
 */
export const detach = (params: { readonly sessionPublicKey: string }): Effect.Effect<void, InvalidInput | LedgerError, Ledger> =>
  Effect.gen(function*() {
    const sessionPublicKey = yield* decode(Felt, "sessionPublicKey")(params?.sessionPublicKey)
    yield* (yield* Ledger).setSessionPolicy(sessionPublicKey, undefined)
  })

/**
 * The policy attached to a session key, if any. A stored policy that no longer decodes is a `LedgerError`.
 *
 * @since 0.1.0
 * @category attaching
 */
export const sessionPolicy = (sessionPublicKey: Felt): Effect.Effect<PolicyRules | undefined, LedgerError, Ledger> =>
  Effect.gen(function*() {
    const stored = yield* (yield* Ledger).sessionPolicy(sessionPublicKey)
    if (stored === undefined) return undefined
    return yield* decodeRules(stored).pipe(
      Effect.mapError((error) => new LedgerError({ operation: "sessionPolicy", message: `stored policy: ${error.message}` }))
    )
  })

// ---------------------------------------------------------------------------------------------------------------
// The check
// ---------------------------------------------------------------------------------------------------------------

const sameFelt = (a: string | bigint, b: string | bigint) => BigInt(a) === BigInt(b)

/**
 * The first rule of `policy` (but budgets and predicates) that these calls break, or `undefined`. Pure: the same
 * verdict in the application and in a remote signer.
 *
 * @since 0.1.0
 * @category checks
 */
export const evaluate = (policy: PolicyRules, context: CheckContext): PolicyViolation | undefined => {
  const { calls, sessionPublicKey, wallet } = context
  const refuse = (rule: string, detail: string, more: Partial<ConstructorParameters<typeof PolicyViolation>[0]> = {}) =>
    new PolicyViolation({ rule, wallet, sessionPublicKey, detail, ...more })
  if (policy.maxCalls !== undefined && calls.length > policy.maxCalls) {
    return refuse("max-calls", `${calls.length} calls, at most ${policy.maxCalls} per payment`)
  }
  const tokenRules = policy.allowedRecipients !== undefined || policy.deniedRecipients !== undefined ||
    policy.maxAmountPerCall !== undefined || policy.budgets !== undefined
  for (const [callIndex, call] of calls.entries()) {
    const at = { callIndex, contractAddress: call.contractAddress, entrypoint: call.entrypoint }
    if (policy.allowedCalls !== undefined) {
      const selector = BigInt(callSelector(call))
      const allowed = policy.allowedCalls.some((pair) =>
        sameFelt(pair.contractAddress, call.contractAddress) && BigInt(callSelector(pair)) === selector
      )
      if (!allowed) return refuse("allowed-calls", `${call.entrypoint} on ${call.contractAddress} is not an allowed call`, at)
    }
    if (!tokenRules) continue
    const move = moveOf(call)
    if (move === undefined) continue
    if (move === "malformed") {
      return refuse("calldata", `${call.entrypoint}'s calldata is not the ERC-20 layout (recipient, amount.low, amount.high)`, at)
    }
    const recipient = toHex(move.recipient)
    const token = toHex(move.token)
    if (policy.deniedRecipients?.some((r) => BigInt(r) === move.recipient)) {
      return refuse("denied-recipients", `${recipient} is a denied recipient`, { ...at, recipient, token, amount: move.amount })
    }
    if (policy.allowedRecipients !== undefined && !policy.allowedRecipients.some((r) => BigInt(r) === move.recipient)) {
      return refuse("allowed-recipients", `${recipient} is not an allowed recipient`, { ...at, recipient, token, amount: move.amount })
    }
    const cap = policy.maxAmountPerCall?.find((c) => BigInt(c.token) === move.token)
    if (cap !== undefined && move.amount > cap.amount) {
      return refuse("max-amount-per-call", `${move.amount} is above the per-call cap of ${cap.amount} for token ${token}`, {
        ...at,
        recipient,
        token,
        amount: move.amount,
        limit: cap.amount
      })
    }
  }
  return undefined
}

/**
 * What the calls move per token (the sum of their amounts, with the first call on it): what budgets count.
 * Malformed calls count nothing here (a policy with token rules refuses them first).
 *
 * @since 0.1.0
 * @category checks
 */
export const spendOf = (calls: ReadonlyArray<Call>): ReadonlyArray<{ readonly token: Address; readonly amount: bigint; readonly callIndex: number }> => {
  const byToken = new Map<bigint, { token: Address; amount: bigint; callIndex: number }>()
  for (const [callIndex, call] of calls.entries()) {
    const move = moveOf(call)
    if (move === undefined || move === "malformed") continue
    const seen = byToken.get(move.token)
    if (seen !== undefined) seen.amount += move.amount
    else byToken.set(move.token, { token: toHex(move.token) as Address, amount: move.amount, callIndex })
  }
  return [...byToken.values()]
}

/**
 * The policies that apply to a payment of a session: the one attached to the session key, and the wallet's.
 *
 * @since 0.1.0
 * @category checks
 */
export const policiesOf = (wallet: Address, sessionPublicKey: Felt): Effect.Effect<ReadonlyArray<Policy>, LedgerError, Ledger> =>
  Effect.gen(function*() {
    const own = yield* sessionPolicy(sessionPublicKey)
    const configured = yield* Effect.serviceOption(WalletPolicies)
    const forWallet = Option.isSome(configured) ? configured.value.forWallet(wallet) : []
    return own === undefined ? forWallet : [own, ...forWallet]
  })

/**
 * The rules of every policy over a payment's calls, then their custom predicates: the first violation, or nothing
 * (budgets aside: they need the ledger, `check` reads them).
 *
 * @since 0.1.0
 * @category checks
 */
export const judge = (policies: ReadonlyArray<Policy>, context: CheckContext): Effect.Effect<void, PolicyViolation> =>
  Effect.gen(function*() {
    for (const policy of policies) {
      const violation = evaluate(policy, context)
      if (violation !== undefined) return yield* violation
    }
    for (const policy of policies) {
      for (const predicate of policy.predicates ?? []) {
        for (const [callIndex, call] of context.calls.entries()) {
          if (!(yield* predicate.check(call, callIndex, context))) {
            return yield* new PolicyViolation({
              rule: `custom:${predicate.name}`,
              callIndex,
              wallet: context.wallet,
              sessionPublicKey: context.sessionPublicKey,
              contractAddress: call.contractAddress,
              entrypoint: call.entrypoint,
              detail: `the rule ${predicate.name} refused the call`
            })
          }
        }
      }
    }
  })

/**
 * Checks a payment against every policy that applies and the wallet's halt (`Sessions.revokeAll`), before anything
 * is signed. Answers the budget charges to record with the payment (`Ledger.recordPayment`), which re-checks the
 * budgets atomically; fails with `WalletHalted` or `PolicyViolation` (nothing signed) or `LedgerError`. Budgets are
 * read here so that a payment over them is refused before signing; the ledger's atomic check decides races.
 *
 * @since 0.1.0
 * @category checks
 */
export const check = (input: {
  readonly wallet: Address
  readonly sessionPublicKey: Felt
  readonly calls: ReadonlyArray<Call>
  /** The payment's key: its own earlier charge does not count against it. */
  readonly idempotencyKey?: string
}): Effect.Effect<ReadonlyArray<BudgetCharge>, PolicyViolation | WalletHalted | LedgerError, Ledger> =>
  Effect.gen(function*() {
    const { calls, sessionPublicKey, wallet } = input
    const ledger = yield* Ledger
    const halted = yield* ledger.haltedSince(wallet)
    if (halted !== undefined) return yield* new WalletHalted({ wallet, since: halted })
    const policies = yield* policiesOf(wallet, sessionPublicKey)
    const spend = spendOf(calls)
    if (policies.length === 0) return spend.map((s) => ({ ...s, limits: [] }))
    yield* judge(policies, { wallet, sessionPublicKey, calls })
    const now = yield* Clock.currentTimeMillis
    const charges: Array<BudgetCharge> = []
    for (const s of spend) {
      const limits = policies.flatMap((p) => p.budgets ?? []).filter((b) => BigInt(b.token) === BigInt(s.token))
        .map((b) => ({ amount: b.amount, windowSeconds: b.windowSeconds }))
      for (const limit of limits) {
        const spent = yield* ledger.budgetSpent(wallet, s.token, limit.windowSeconds, now, input.idempotencyKey)
        if (spent + s.amount > limit.amount) {
          return yield* budgetRefusal({ wallet, sessionPublicKey }, { ...s, limits: [] }, limit, spent)
        }
      }
      charges.push({ ...s, limits })
    }
    return charges
  }).pipe(Effect.withSpan("Policies.check"))

/**
 * What the wallet's payments of a token spent in the last `windowSeconds`, counted as budgets count (across every
 * session and every instance on the ledger; a payment known not to have moved money does not count, an unknown
 * outcome does).
 *
 * @since 0.1.0
 * @category reads
 */
export const spent = (params: {
  readonly wallet: string
  readonly token: string
  readonly windowSeconds: number
}): Effect.Effect<bigint, InvalidInput | LedgerError, Ledger> =>
  Effect.gen(function*() {
    const wallet = yield* decode(Address, "wallet")(params?.wallet)
    const token = yield* decode(Address, "token")(params.token)
    const windowSeconds = yield* decode(WindowSeconds, "windowSeconds")(params.windowSeconds)
    const now = yield* Clock.currentTimeMillis
    return yield* (yield* Ledger).budgetSpent(wallet, token, windowSeconds, now)
  })
