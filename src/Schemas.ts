/**
 * Schemas for every value that crosses the library's boundary. Decoding normalises (felts become lowercase
 * 0x-hex, entrypoint names become selectors) so that inside the library a value is already valid.
 *
 * @since 0.1.0
 */
import { Effect, ParseResult, Schema } from "effect"
import { InvalidInput } from "./Errors.js"
import { ADDRESS_BOUND, P, parseNumeric, toHex, U32_MAX, U64_MAX } from "./internal/crypto/felt.js"
import { selectorOfName } from "./internal/crypto/stark.js"

const feltArbitrary = <A extends string>(max: bigint) => () => (fc: typeof import("effect/FastCheck")) =>
  fc.bigInt({ min: 0n, max: max - 1n }).map((n) => toHex(n) as A)

const parseFeltInput = (input: string | bigint | number): bigint | string => {
  if (typeof input === "bigint") return input
  if (typeof input === "number") {
    return Number.isSafeInteger(input) ? BigInt(input) : `${input} is not a safe integer`
  }
  const value = parseNumeric(input)
  return value === undefined ? `"${input}" is not 0x-hex or a decimal integer` : value
}

const boundedFelt = (bound: bigint, boundName: string) =>
(input: string | bigint | number, ast: import("effect/SchemaAST").AST) => {
  const parsed = parseFeltInput(input)
  if (typeof parsed === "string") return ParseResult.fail(new ParseResult.Type(ast, input, parsed))
  if (parsed < 0n) return ParseResult.fail(new ParseResult.Type(ast, input, `${input} is negative`))
  if (parsed >= bound) {
    return ParseResult.fail(new ParseResult.Type(ast, input, `${toHex(parsed)} is not below ${boundName}`))
  }
  return ParseResult.succeed(toHex(parsed))
}

const FeltInput = Schema.Union(Schema.String, Schema.BigIntFromSelf, Schema.Number)

/**
 * A field element, as lowercase 0x-hex.
 *
 * @since 0.1.0
 * @category models
 */
export const FeltString = Schema.String.pipe(
  Schema.brand("Felt"),
  Schema.annotations({ identifier: "Felt", arbitrary: feltArbitrary(P) })
)
/** @since 0.1.0 */
export type Felt = typeof FeltString.Type

/**
 * Decodes 0x-hex, decimal strings, bigints and safe integers into a `Felt`; rejects negatives and values at or
 * above the field prime.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Felt = Schema.transformOrFail(FeltInput, FeltString, {
  strict: false,
  decode: (input, _, ast) => boundedFelt(P, "the field prime")(input, ast),
  encode: (felt) => ParseResult.succeed(felt)
}).annotations({ identifier: "Felt" })

/**
 * A contract address: a felt below 2^251.
 *
 * @since 0.1.0
 * @category models
 */
export const AddressString = Schema.String.pipe(
  Schema.brand("Felt"),
  Schema.brand("Address"),
  Schema.annotations({ identifier: "Address", arbitrary: feltArbitrary(ADDRESS_BOUND) })
)
/** @since 0.1.0 */
export type Address = typeof AddressString.Type

/**
 * Decodes a contract address (a felt below 2^251).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Address = Schema.transformOrFail(FeltInput, AddressString, {
  strict: false,
  decode: (input, _, ast) => boundedFelt(ADDRESS_BOUND, "2^251")(input, ast),
  encode: (address) => ParseResult.succeed(address)
}).annotations({ identifier: "Address" })

/**
 * A transaction hash.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TxHash = Schema.transformOrFail(
  FeltInput,
  Schema.String.pipe(
    Schema.brand("Felt"),
    Schema.brand("TxHash"),
    Schema.annotations({ identifier: "TxHash", arbitrary: feltArbitrary(P) })
  ),
  {
    strict: false,
    decode: (input, _, ast) => boundedFelt(P, "the field prime")(input, ast),
    encode: (txHash) => ParseResult.succeed(txHash)
  }
).annotations({ identifier: "TxHash" })
/** @since 0.1.0 */
export type TxHash = typeof TxHash.Type

const ENTRYPOINT_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * The selector of an entrypoint name (starknet_keccak of the name).
 *
 * @since 0.1.0
 * @category constructors
 */
export const selectorOf = (name: string): Felt => {
  let selector = selectors.get(name)
  if (selector === undefined) {
    selector = toHex(selectorOfName(name)) as Felt
    // A backend names a handful of entrypoints: keep them, bounded.
    if (selectors.size >= 4096) selectors.clear()
    selectors.set(name, selector)
  }
  return selector
}
const selectors = new Map<string, Felt>()

/**
 * An entrypoint, given by name (`"transfer"`) or by selector (`"0x83af…"`), decoded to its selector.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Selector = Schema.transformOrFail(FeltInput, FeltString, {
  strict: false,
  decode: (input, _, ast) =>
    typeof input === "string" && ENTRYPOINT_NAME.test(input)
      ? ParseResult.succeed(selectorOf(input))
      : boundedFelt(P, "the field prime")(input, ast).pipe(
        ParseResult.mapError(() =>
          new ParseResult.Type(ast, input, `"${String(input)}" is neither an entrypoint name nor a selector felt`)
        )
      ),
  encode: (selector) => ParseResult.succeed(selector)
}).annotations({ identifier: "Selector" })

/**
 * An entrypoint name or a selector, kept as given (names stay readable in errors and wire formats that want
 * names).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Entrypoint = Schema.String.pipe(
  Schema.filter((s) => {
    if (ENTRYPOINT_NAME.test(s)) return true
    const selector = parseNumeric(s)
    return selector !== undefined && selector >= 0n && selector < P
  }, {
    message: (issue) => `"${String(issue.actual)}" is neither an entrypoint name nor a selector below the field prime`
  }),
  Schema.annotations({
    identifier: "Entrypoint",
    arbitrary: () => (fc) => fc.constantFrom("transfer", "approve", "balance_of", "increase_allowance", "swap")
  })
)

/**
 * One call of a multicall, as in the guide: `{ contractAddress, entrypoint, calldata }`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Call = Schema.Struct({
  contractAddress: Address,
  entrypoint: Entrypoint,
  calldata: Schema.optionalWith(Schema.Array(Felt), { default: () => [] })
}).annotations({ identifier: "Call" })
/** @since 0.1.0 */
export type Call = typeof Call.Type

/** The selector a call invokes. @since 0.1.0 */
export const callSelector = (call: Pick<Call, "entrypoint">): Felt =>
  ENTRYPOINT_NAME.test(call.entrypoint) ? selectorOf(call.entrypoint) : toHex(BigInt(call.entrypoint)) as Felt

const integer = (max: bigint, name: string, min = 0) =>
  Schema.Number.pipe(
    Schema.int({ message: () => `${name} must be an integer` }),
    Schema.greaterThanOrEqualTo(min, { message: () => `${name} must be at least ${min}` }),
    Schema.lessThanOrEqualTo(Number(max < BigInt(Number.MAX_SAFE_INTEGER) ? max : BigInt(Number.MAX_SAFE_INTEGER)), {
      message: () => `${name} must fit in ${name === "u32" ? "u32" : "u64"}`
    })
  )

/**
 * A u64 timestamp in seconds (bounded by the largest safe JavaScript integer).
 *
 * @since 0.1.0
 * @category schemas
 */
export const U64 = integer(U64_MAX, "u64").annotations({ identifier: "u64" })
/**
 * A u32.
 *
 * @since 0.1.0
 * @category schemas
 */
export const U32 = integer(U32_MAX, "u32").annotations({ identifier: "u32" })

/**
 * What the owner authorises: the session key, its expiry, its call budget and (optionally) its allow-list.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SessionConfig = Schema.Struct({
  sessionPublicKey: Felt,
  validUntil: U64,
  maxCalls: U32.pipe(Schema.greaterThanOrEqualTo(1, { message: () => "maxCalls must be at least 1" })),
  allowedEntrypoints: Schema.optionalWith(Schema.Array(Selector), { default: () => [] })
}).annotations({ identifier: "SessionConfig" })
/** @since 0.1.0 */
export type SessionConfig = typeof SessionConfig.Type

/**
 * A session key as created locally: public key, encrypted private key and the expiry it was made for.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SessionKeyData = Schema.Struct({
  publicKey: Felt,
  encryptedPrivateKey: Schema.NonEmptyString,
  validUntil: U64
}).annotations({ identifier: "SessionKeyData" })
/** @since 0.1.0 */
export type SessionKeyData = typeof SessionKeyData.Type

/**
 * A user's wallet as the guide holds it: `publicKey` is the account address.
 *
 * @since 0.1.0
 * @category schemas
 */
export const WalletData = Schema.Struct({
  publicKey: Address,
  encryptedPrivateKey: Schema.NonEmptyString,
  walletType: Schema.optional(Schema.String)
}).annotations({ identifier: "WalletData" })
/** @since 0.1.0 */
export type WalletData = typeof WalletData.Type

/**
 * Session data as stored on the account, with `isActive` and `remainingCalls` derived.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SessionData = Schema.Struct({
  isActive: Schema.Boolean,
  validUntil: Schema.Number,
  maxCalls: Schema.Number,
  callsUsed: Schema.Number,
  remainingCalls: Schema.Number,
  allowedEntrypointsLen: Schema.Number,
  /**
   * The allow-list's selectors (empty: any entrypoint but the account's own), read from the account's v33 views;
   * absent only when the account lacks them.
   */
  allowedEntrypoints: Schema.optional(Schema.Array(FeltString))
}).annotations({ identifier: "SessionData" })
/** @since 0.1.0 */
export type SessionData = typeof SessionData.Type

/**
 * Reads `get_session_data`'s 4 felts in the contract's order `[valid_until, max_calls, calls_used, len]`.
 * `isActive` means usable at `now`: registered, not expired and with calls left.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sessionDataFromFelts = (felts: ReadonlyArray<string | bigint>, now: number): SessionData => {
  const [validUntil, maxCalls, callsUsed, len] = [0, 1, 2, 3].map((i) => Number(BigInt(felts[i] ?? 0)))
  const remainingCalls = Math.max(0, maxCalls! - callsUsed!)
  return {
    isActive: validUntil! !== 0 && now <= validUntil! && remainingCalls > 0,
    validUntil: validUntil!,
    maxCalls: maxCalls!,
    callsUsed: callsUsed!,
    remainingCalls,
    allowedEntrypointsLen: len!,
    ...(len === 0 ? { allowedEntrypoints: [] } : {})
  }
}

/**
 * Finality statuses of the Starknet JSON-RPC spec 0.8 and 0.9.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FinalityStatus = Schema.Literal(
  "RECEIVED",
  "CANDIDATE",
  "PRE_CONFIRMED",
  "ACCEPTED_ON_L2",
  "ACCEPTED_ON_L1",
  "REJECTED"
)
/** @since 0.1.0 */
export const ExecutionStatus = Schema.Literal("SUCCEEDED", "REVERTED")

/**
 * A transaction's status, as the guide reads it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TransactionStatus = Schema.Struct({
  finalityStatus: FinalityStatus,
  executionStatus: Schema.optional(ExecutionStatus),
  revertReason: Schema.optional(Schema.String)
}).annotations({ identifier: "TransactionStatus" })
/** @since 0.1.0 */
export type TransactionStatus = typeof TransactionStatus.Type

/**
 * Decodes unknown input with a schema; failures become `InvalidInput` naming the field path and the rule.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = <A, I>(schema: Schema.Schema<A, I, never>, root?: string) => (input: unknown) =>
  Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "ignore" })(input).pipe(
    Effect.mapError((error) => toInvalidInput(error, root))
  )

/**
 * Decodes synchronously, throwing `InvalidInput` (for the Promise client's synchronous calls).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeSync = <A, I>(schema: Schema.Schema<A, I, never>, root?: string) => (input: unknown): A =>
  Effect.runSync(Effect.either(decode(schema, root)(input))).pipe((either) => {
    if (either._tag === "Left") throw either.left
    return either.right
  })

/**
 * An encrypted private key in either format we read (the `ssk1.` envelope, the CryptoJS `U2FsdGVkX1…` blob): a value
 * passed in the wrong place (a key blob where a key object or a public key is expected) must not be echoed.
 */
const ENCRYPTED_KEY = /(?:ssk1\.|U2FsdGVkX1)[A-Za-z0-9+/=_\-.]*/g

/** @since 0.1.0 */
export const toInvalidInput = (error: ParseResult.ParseError, root?: string): InvalidInput => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
    path: [...(root !== undefined ? [root] : []), ...issue.path.map(String)].join("."),
    rule: issue.message.replace(ENCRYPTED_KEY, "<an encrypted key>")
  }))
  const first = issues[0] ?? { path: root ?? "", rule: "invalid input" }
  return new InvalidInput({ path: first.path, rule: first.rule, issues })
}
