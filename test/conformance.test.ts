/**
 * Conformance vectors: the type hashes, domain, hash algorithm, signature format, blocklist and interface id
 * that SNIP-9, SNIP-163 and OpenZeppelin's SNIP-12 implementation publish, checked against the library's hashing.
 * Poseidon here is @scure/starknet's, independent of the library's own.
 */
import { describe, expect, it } from "@effect/vitest"
import { poseidonHashMany } from "@scure/starknet"
import { Constants, OutsideExecution, Schemas } from "starknet-session-keys"

const H = (typeString: string) => BigInt(Schemas.selectorOf(typeString))
const shortString = (text: string) => BigInt("0x" + Buffer.from(text).toString("hex"))
const xor = (values: ReadonlyArray<bigint>) => values.reduce((a, b) => a ^ b, 0n)

const account = "0x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
const oe: OutsideExecution.OutsideExecution = {
  caller: Constants.ANY_CALLER,
  nonce: "0x55" as Schemas.Felt,
  executeAfter: 0n,
  executeBefore: 1000n,
  calls: [
    { to: "0x2222" as Schemas.Address, selector: Schemas.selectorOf("transfer"), calldata: ["0x1", "0x2", "0x3"] as Array<Schemas.Felt> },
    { to: "0x3333" as Schemas.Address, selector: Schemas.selectorOf("approve"), calldata: [] }
  ]
}

describe("SNIP-9 (starknet-io/SNIPs SNIPS/snip-9.md)", () => {
  it("version 2 type hashes, as published, are the library's", () => {
    // 2.2 Version 2: H of the rev 1 (quoted) type encodings.
    const oeV2 = H(
      "\"OutsideExecution\"(\"Caller\":\"ContractAddress\",\"Nonce\":\"felt\",\"Execute After\":\"u128\",\"Execute Before\":\"u128\",\"Calls\":\"Call*\")\"Call\"(\"To\":\"ContractAddress\",\"Selector\":\"selector\",\"Calldata\":\"felt*\")"
    )
    const callV2 = H("\"Call\"(\"To\":\"ContractAddress\",\"Selector\":\"selector\",\"Calldata\":\"felt*\")")
    expect(oeV2).toBe(0x312b56c05a7965066ddbda31c016d8d05afc305071c0ca3cdc2192c3c2f1f0fn)
    expect(callV2).toBe(0x3635c7f2a7ba93844c0d064e18e487f35ab90f7c39d00f186a781fc3f0c2ca9n)
    expect(OutsideExecution.OUTSIDE_EXECUTION_TYPE_HASH).toBe(oeV2)
    expect(OutsideExecution.CALL_TYPE_HASH).toBe(callV2)
  })

  it("version 1 type hashes come out as published from the same H (the library's starknet_keccak)", () => {
    expect(H("OutsideExecution(caller:felt,nonce:felt,execute_after:felt,execute_before:felt,calls_len:felt,calls:OutsideCall*)OutsideCall(to:felt,selector:felt,calldata_len:felt,calldata:felt*)"))
      .toBe(0x11ff76fe3f640fa6f3d60bbd94a3b9d47141a2c96f87fdcfbeb2af1d03f7050n)
    expect(H("OutsideCall(to:felt,selector:felt,calldata_len:felt,calldata:felt*)")).toBe(0xf00de1fccbb286f9a020ba8821ee936b1deea42a5c485c11ccdc82c8bebb3an)
  })

  it("the IOutsideExecution_V2 interface id the library checks is SNIP-9's", () => {
    expect(Constants.INTERFACE_IDS.SNIP9_V2).toBe("0x1d1144bb2138366ff28d8e9ab57456b1d332ac42196230c3a602003c89872")
  })
})

describe("SNIP-163, Session Keys for Smart Accounts (starknet-io/SNIPs SNIPS/snip-x.md, PR #163)", () => {
  it("F.4: the domain and Call type hashes", () => {
    const domainTypeHash = H("\"StarknetDomain\"(\"name\":\"shortstring\",\"version\":\"shortstring\",\"chainId\":\"shortstring\",\"revision\":\"shortstring\")")
    expect(domainTypeHash).toBe(0x1ff2f602e42168014d405a94f75e8a93d640751d71d16311266e140d8b0a210n)
    expect(OutsideExecution.DOMAIN_TYPE_HASH).toBe(domainTypeHash)
    expect(OutsideExecution.CALL_TYPE_HASH).toBe(0x3635c7f2a7ba93844c0d064e18e487f35ab90f7c39d00f186a781fc3f0c2ca9n)
  })

  it("F.4: the domain is { name: Account.execute_from_outside, version: 2 (numeric), chainId, revision: 1 }", () => {
    for (const chainId of [Constants.SN_SEPOLIA, Constants.SN_MAIN]) {
      const expected = poseidonHashMany([OutsideExecution.DOMAIN_TYPE_HASH, shortString("Account.execute_from_outside"), 2n, BigInt(chainId), 1n])
      expect(OutsideExecution.domainHash(chainId)).toBe(expected)
      // Not the shortstring '2': that is another domain, whose signatures the account refuses.
      expect(OutsideExecution.domainHash(chainId)).not.toBe(
        poseidonHashMany([OutsideExecution.DOMAIN_TYPE_HASH, shortString("Account.execute_from_outside"), shortString("2"), BigInt(chainId), 1n])
      )
    }
  })

  it("F.4: the hash computation, step by step, is the library's message hash (u128 timestamps)", () => {
    const callHashes = oe.calls.map((c) =>
      poseidonHashMany([OutsideExecution.CALL_TYPE_HASH, BigInt(c.to), BigInt(c.selector), poseidonHashMany(c.calldata.map(BigInt))])
    )
    const struct = poseidonHashMany([
      OutsideExecution.OUTSIDE_EXECUTION_TYPE_HASH,
      BigInt(oe.caller),
      BigInt(oe.nonce),
      oe.executeAfter,
      oe.executeBefore,
      poseidonHashMany(callHashes)
    ])
    const domain = poseidonHashMany([OutsideExecution.DOMAIN_TYPE_HASH, shortString("Account.execute_from_outside"), 2n, BigInt(Constants.SN_SEPOLIA), 1n])
    const message = poseidonHashMany([shortString("StarkNet Message"), domain, BigInt(account), struct])
    expect(oe.calls.map(OutsideExecution.callHash)).toEqual(callHashes)
    expect(OutsideExecution.structHash(oe)).toBe(struct)
    expect(BigInt(OutsideExecution.messageHash(Constants.SN_SEPOLIA, account, oe))).toBe(message)
  })

  it("F.4 implementation note: the felt-timestamp fallback is the same encoding with felt in place of u128", () => {
    const feltForm = H(
      "\"OutsideExecution\"(\"Caller\":\"ContractAddress\",\"Nonce\":\"felt\",\"Execute After\":\"felt\",\"Execute Before\":\"felt\",\"Calls\":\"Call*\")\"Call\"(\"To\":\"ContractAddress\",\"Selector\":\"selector\",\"Calldata\":\"felt*\")"
    )
    expect(OutsideExecution.OUTSIDE_EXECUTION_FELT_TYPE_HASH).toBe(feltForm)
    expect(OutsideExecution.structHash(oe, "felt")).not.toBe(OutsideExecution.structHash(oe))
  })

  it("Part B: the session signature is [session_pubkey, r, s, valid_until]; the owner's [r, s]", () => {
    expect(OutsideExecution.sessionSignature("0xa", { r: 11n, s: 12n }, 13)).toEqual(["0xa", "0xb", "0xc", "0xd"])
    expect(OutsideExecution.ownerSignature({ r: 11n, s: 12n })).toEqual(["0xb", "0xc"])
  })

  it("Part D: the nine selectors no session key may call are all in the library's blocklist", () => {
    const nine = [
      "upgrade",
      "add_or_update_session_key",
      "revoke_session_key",
      "__execute__",
      "set_public_key",
      "setPublicKey",
      "execute_from_outside_v2",
      "set_spending_policy",
      "remove_spending_policy"
    ]
    expect([...Constants.BLOCKLISTED_ENTRYPOINTS].sort()).toEqual(expect.arrayContaining(nine.sort()))
  })

  it("Part G: the ISessionKeyManager interface id is the XOR of starknetKeccak of its three functions", () => {
    const id = xor(["add_or_update_session_key", "revoke_session_key", "get_session_data"].map(H))
    expect(BigInt(Constants.INTERFACE_IDS.SESSION_KEY_MANAGER)).toBe(id)
  })
})

describe("OpenZeppelin cairo-contracts SNIP-12 (packages/utils/src/tests/test_snip12.cairo, packages/account/src/extensions/src9/snip12_utils.cairo)", () => {
  it("STARKNET_DOMAIN_TYPE_HASH and the test's MESSAGE_TYPE_HASH vector come out of the library's H", () => {
    expect(H("\"StarknetDomain\"(\"name\":\"shortstring\",\"version\":\"shortstring\",\"chainId\":\"shortstring\",\"revision\":\"shortstring\")"))
      .toBe(OutsideExecution.DOMAIN_TYPE_HASH)
    expect(H("\"Message\"(\"recipient\":\"ContractAddress\",\"amount\":\"u256\",\"nonce\":\"felt\",\"expiry\":\"u128\")\"u256\"(\"low\":\"u128\",\"high\":\"u128\")"))
      .toBe(0x28bf13f11bba405c77ce010d2781c5903cbed100f01f72fcff1664f98343eb6n)
  })

  it("StarknetDomain's struct hash (test_StructHashStarknetDomainImpl: DAPP_NAME, v1, TEST, 1) is the library's domain hash", () => {
    const expected = poseidonHashMany([OutsideExecution.DOMAIN_TYPE_HASH, shortString("DAPP_NAME"), shortString("v1"), shortString("TEST"), 1n])
    expect(OutsideExecution.domainHashOf({ name: "DAPP_NAME", version: "v1", chainId: "TEST", revision: 1 })).toBe(expected)
  })

  it("SRC9's OutsideExecution and Call struct hashes, and the offchain message hash (poseidon of 'StarkNet Message', domain, signer, struct)", () => {
    const call = oe.calls[0]!
    expect(OutsideExecution.callHash(call)).toBe(
      poseidonHashMany([0x3635c7f2a7ba93844c0d064e18e487f35ab90f7c39d00f186a781fc3f0c2ca9n, BigInt(call.to), BigInt(call.selector), poseidonHashMany(call.calldata.map(BigInt))])
    )
    const struct = poseidonHashMany([
      0x312b56c05a7965066ddbda31c016d8d05afc305071c0ca3cdc2192c3c2f1f0fn,
      BigInt(oe.caller),
      BigInt(oe.nonce),
      oe.executeAfter,
      oe.executeBefore,
      poseidonHashMany(oe.calls.map(OutsideExecution.callHash))
    ])
    expect(OutsideExecution.structHash(oe)).toBe(struct)
    const typedData = OutsideExecution.toTypedData("SN_MAIN", oe)
    const domain = OutsideExecution.domainHashOf(typedData.domain)
    expect(BigInt(OutsideExecution.typedDataHash(typedData, account))).toBe(poseidonHashMany([shortString("StarkNet Message"), domain, BigInt(account), struct]))
  })
})
