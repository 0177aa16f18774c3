/**
 * Calls built for you, so amounts are never split by hand: a Cairo `u256` as its two felts and an ERC-20
 * `transfer`. A `u256` is serialised low half first: `[low, high]`, each a `u128` (Cairo's `Serde` of `u256`, as
 * starknet.js's `uint256.bnToUint256` gives it).
 *
 * @since 0.1.0
 */
import { Effect, Either } from "effect"
import { InvalidInput } from "./Errors.js"
import { U128_MAX } from "./internal/crypto/felt.js"
import { type Address, Address as AddressSchema, decode, type Felt } from "./Schemas.js"

/** The largest `u256`. */
const U256_MAX = 2n ** 256n - 1n

/**
 * An amount: a `bigint`, a safe integer, or a string of raw units in decimal or `0x` hex. With `decimals`, a string
 * may be in whole units with a fractional part (`"1.5"` of a 6-decimal token is `1_500_000n` raw units).
 *
 * @since 0.1.0
 * @category models
 */
export type Amount = bigint | number | string

/**
 * @since 0.1.0
 * @category models
 */
export interface AmountOptions {
  /** The token's decimals: the amount is then in whole units (`STARKNET_CONTRACTS.USDC.decimals` is 6). */
  readonly decimals?: number
}

/**
 * A call as the lifecycle and the Promise client take it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Call {
  readonly contractAddress: Address
  readonly entrypoint: string
  readonly calldata: ReadonlyArray<Felt>
}

const refuse = (path: string, rule: string) => new InvalidInput({ path, rule, issues: [{ path, rule }] })

const toHex = (value: bigint) => ("0x" + value.toString(16)) as Felt

/** Raw units of an amount, or the rule it broke. */
const rawUnits = (amount: unknown, decimals: number | undefined): bigint | string => {
  if (decimals !== undefined && (!Number.isSafeInteger(decimals) || decimals < 0 || decimals > 77)) {
    return "decimals must be an integer from 0 to 77"
  }
  const scale = 10n ** BigInt(decimals ?? 0)
  if (typeof amount === "bigint") return amount * scale
  if (typeof amount === "number") {
    return Number.isSafeInteger(amount) ? BigInt(amount) * scale : "must be a safe integer (pass a bigint or a string for larger amounts)"
  }
  if (typeof amount !== "string") return `must be a bigint, a safe integer or a string, not ${amount === null ? "null" : typeof amount}`
  const text = amount.trim()
  if (/^0x[0-9a-fA-F]+$/.test(text)) return BigInt(text) * scale
  const decimal = /^([0-9]+)(?:\.([0-9]+))?$/.exec(text)
  if (decimal === null) return "must be a non-negative integer (decimal or 0x hex)" + (decimals !== undefined ? " or a decimal number" : "")
  const fraction = decimal[2] ?? ""
  if (fraction !== "" && decimals === undefined) return "has a fractional part: give it in raw units, or pass the token's decimals"
  if (fraction.length > (decimals ?? 0)) return `has more than ${decimals} decimal places (the token's decimals)`
  return BigInt(decimal[1]!) * scale + BigInt(fraction.padEnd(decimals ?? 0, "0") || "0")
}

const split = (amount: unknown, options: AmountOptions, path: string): Either.Either<readonly [Felt, Felt], InvalidInput> => {
  const raw = rawUnits(amount, options.decimals)
  if (typeof raw === "string") return Either.left(refuse(path, raw))
  if (raw < 0n) return Either.left(refuse(path, "must not be negative"))
  if (raw > U256_MAX) return Either.left(refuse(path, "must be below 2^256 (a u256)"))
  return Either.right([toHex(raw & U128_MAX), toHex(raw >> 128n)] as const)
}

/**
 * A `u256` as the two felts of calldata, `[low, high]`. Fails with `InvalidInput` at `amount` for a negative value, one
 * of 2^256 or more, a fraction without `decimals` (or with more places than `decimals`), or anything not a number.
 *
 * @since 0.1.0
 * @category constructors
 */
export const uint256 = (amount: Amount, options: AmountOptions = {}): Effect.Effect<readonly [Felt, Felt], InvalidInput> =>
  Effect.suspend(() => split(amount, options ?? {}, "amount"))

/**
 * The params of `transfer`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransferParams extends AmountOptions {
  /** The ERC-20 contract, e.g. `STARKNET_CONTRACTS.USDC.contractAddress`. */
  readonly token: string
  /** The recipient's address. */
  readonly to: string
  readonly amount: Amount
}

const transferEither = (params: TransferParams): Either.Either<Call, InvalidInput> => {
  if (typeof params !== "object" || params === null) return Either.left(refuse("params", "must be an object"))
  const token = Effect.runSync(Effect.either(decode(AddressSchema, "token")(params.token)))
  if (Either.isLeft(token)) return Either.left(token.left)
  const to = Effect.runSync(Effect.either(decode(AddressSchema, "to")(params.to)))
  if (Either.isLeft(to)) return Either.left(to.left)
  return Either.map(split(params.amount, params, "amount"), ([low, high]) => ({
    contractAddress: token.right,
    entrypoint: "transfer",
    calldata: [to.right, low, high]
  }))
}

/**
 * An ERC-20 `transfer(recipient, amount: u256)` call: calldata `[to, low, high]`. Fails with `InvalidInput` naming
 * `token`, `to` or `amount`.
 *
 * @example
 * ```ts
 * const call = yield* Calls.transfer({ token: STARKNET_CONTRACTS.USDC.contractAddress, to: recipient, amount: "2.5", decimals: 6 })
 * yield* Sessions.execute({ encryptKey: pin, wallet, session, calls: [call] })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const transfer = (params: TransferParams): Effect.Effect<Call, InvalidInput> => Effect.suspend(() => transferEither(params))

/**
 * `transfer`, synchronously, for Promise code: throws `InvalidInput` (only that) when the params are not right.
 *
 * @since 0.1.0
 * @category constructors
 */
export const transferSync = (params: TransferParams): Call => Either.getOrThrowWith(transferEither(params), (e) => e)

/**
 * `uint256`, synchronously, for Promise code: throws `InvalidInput` (only that) when the amount is not a u256.
 *
 * @since 0.1.0
 * @category constructors
 */
export const uint256Sync = (amount: Amount, options: AmountOptions = {}): readonly [Felt, Felt] =>
  Either.getOrThrowWith(split(amount, options ?? {}, "amount"), (e) => e)
