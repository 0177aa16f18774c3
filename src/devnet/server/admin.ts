/**
 * The served devnet's admin methods (`devnet_*`), so that a backend in any language can drive it. Every value is
 * decoded and bounded before anything runs: a time jump, a lag or a hold that would corrupt or stall the chain is
 * refused with -32602 naming the field.
 */
import { Duration, Effect, ParseResult, Schema } from "effect"
import { STARKNET_CONTRACTS } from "../../Constants.js"
import { Address, Felt } from "../../Schemas.js"
import { Devnet } from "../types.js"
import { invalidParams, method, type Methods } from "./jsonrpc.js"

/** The bounds on admin values (documented in docs/devnet.md). */
export const ADMIN_LIMITS = {
  /** Ten years: more would take block timestamps past what clients read as dates. */
  advanceSeconds: 315_360_000,
  latencyMillis: 60_000,
  failOrDropNext: 1_000_000,
  retryAfterSeconds: 3_600,
  holdBlocks: 10_000,
  readLagBlocks: 100,
  encryptKeyLength: 1_024
} as const

const exact = <A, I>(schema: Schema.Schema<A, I>) => Schema.optionalWith(schema, { exact: true })
const bounded = (max: number) => Schema.Int.pipe(Schema.between(0, max))

const Amount = Schema.transform(Felt, Schema.BigIntFromSelf, { strict: true, decode: (f) => BigInt(f), encode: (b) => ("0x" + b.toString(16)) as Felt })

/** A token by symbol (any case) or by the address of one the devnet deploys. */
const TOKENS = Object.entries(STARKNET_CONTRACTS).map(([symbol, t]) => ({ symbol, address: BigInt(t.contractAddress) }))
const Token = Schema.transformOrFail(Schema.String, Schema.String, {
  strict: true,
  decode: (input, _, ast) => {
    const bySymbol = TOKENS.find((t) => t.symbol === input.toUpperCase())
    if (bySymbol !== undefined) return ParseResult.succeed("0x" + bySymbol.address.toString(16))
    const byAddress = /^0x[0-9a-fA-F]{1,64}$/.test(input) ? TOKENS.find((t) => t.address === BigInt(input)) : undefined
    return byAddress !== undefined
      ? ParseResult.succeed("0x" + byAddress.address.toString(16))
      : ParseResult.fail(new ParseResult.Type(ast, input, `unknown token ${JSON.stringify(input.slice(0, 80))} (the devnet has ${TOKENS.map((t) => t.symbol).join(", ")})`))
  },
  encode: ParseResult.succeed
})
const Fund = Schema.Struct(Object.fromEntries(TOKENS.map((t) => [t.symbol, exact(Amount)])) as Record<string, ReturnType<typeof exact<bigint, string | number | bigint>>>)

const CreateWalletParams = Schema.Struct({
  encryptKey: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(ADMIN_LIMITS.encryptKeyLength)),
  fund: exact(Schema.transform(
    Schema.Record({ key: Schema.String, value: Schema.Unknown }),
    Fund,
    { strict: false, decode: (r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k.toUpperCase(), v])), encode: (r) => r }
  )),
  keyFormat: exact(Schema.Literal("legacy", "v1"))
})
const MintParams = Schema.Struct({ token: Token, to: Address, amount: Amount })
const BalanceParams = Schema.Struct({ token: Token, account: Address })
const AdvanceParams = Schema.Struct({
  seconds: Schema.Number.pipe(Schema.finite(), Schema.between(0, ADMIN_LIMITS.advanceSeconds))
})
const faultsParams = (methodNames: ReadonlyArray<string>) =>
  Schema.Struct({
    latency: exact(Schema.Number.pipe(Schema.finite(), Schema.between(0, ADMIN_LIMITS.latencyMillis))),
    failNext: exact(bounded(ADMIN_LIMITS.failOrDropNext)),
    failStatus: exact(Schema.Literal(429, 503)),
    retryAfterSeconds: exact(bounded(ADMIN_LIMITS.retryAfterSeconds)),
    dropNext: exact(bounded(ADMIN_LIMITS.failOrDropNext)),
    dropWhen: exact(Schema.Literal("before", "after")),
    holdNext: exact(bounded(ADMIN_LIMITS.failOrDropNext)),
    holdSkip: exact(bounded(ADMIN_LIMITS.failOrDropNext)),
    // By the wire names the served devnet answers: a misspelt one would silently target nothing.
    faultMethods: exact(Schema.Array(Schema.Literal(...methodNames)).pipe(Schema.maxItems(methodNames.length))),
    holdBlocks: exact(bounded(ADMIN_LIMITS.holdBlocks)),
    readLagBlocks: exact(bounded(ADMIN_LIMITS.readLagBlocks)),
    staleEstimateNext: exact(bounded(ADMIN_LIMITS.failOrDropNext)),
    reorgBlocks: exact(bounded(ADMIN_LIMITS.readLagBlocks)),
    alterTypedData: exact(Schema.Literal("calldata", "to", "selector", "chainId", "window", "caller"))
  })

const ADMIN_NAMES = [
  "devnet_createWallet",
  "devnet_mint",
  "devnet_balanceOf",
  "devnet_advanceTime",
  "devnet_mineBlock",
  "devnet_setFaults",
  "devnet_clearFaults"
] as const

/** The admin methods; `otherMethods` are the names `faultMethods` may target besides these. */
export const adminMethods = (otherMethods: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const devnet = yield* Devnet
    const methods: Methods = {
      devnet_createWallet: method(["encryptKey", "fund", "keyFormat"], CreateWalletParams, (p) =>
        devnet.createWallet({
          encryptKey: p.encryptKey,
          ...(p.fund !== undefined ? { fund: p.fund } : {}),
          ...(p.keyFormat !== undefined ? { keyFormat: p.keyFormat } : {})
        }).pipe(Effect.mapError((e) => invalidParams(e.message)))),
      devnet_mint: method(["token", "to", "amount"], MintParams, (p) =>
        devnet.mint(p.token, p.to, p.amount).pipe(Effect.as(true), Effect.mapError((e) => invalidParams(e.message)))),
      devnet_balanceOf: method(["token", "account"], BalanceParams, (p) =>
        devnet.balanceOf(p.token, p.account).pipe(Effect.map((b) => "0x" + b.toString(16)))),
      devnet_advanceTime: method(["seconds"], AdvanceParams, (p) =>
        devnet.advanceTime(Duration.millis(Math.round(p.seconds * 1000))).pipe(
          Effect.zipRight(devnet.blockTimestamp),
          Effect.map((timestamp) => ({ timestamp }))
        )),
      devnet_mineBlock: method([], Schema.Struct({}), () => devnet.mineBlock),
      devnet_setFaults: method(
        [],
        faultsParams([...otherMethods, ...ADMIN_NAMES]),
        ({ latency, ...rest }) =>
          devnet.setFaults({ ...rest, ...(latency !== undefined ? { latency: Duration.millis(latency) } : {}) }).pipe(Effect.as(true))
      ),
      devnet_clearFaults: method([], Schema.Struct({}), () => devnet.clearFaults.pipe(Effect.as(true)))
    }
    return methods
  })
