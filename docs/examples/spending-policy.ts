// The Chipi SDK's spending-policy calls (setSpendingPolicy, getSpendingPolicy, removeSpendingPolicy) as its
// documentation shows them; only the import lines and the construction of the client (in `main`) differ.
// Run by test/spending.promise.test.ts against the embedded devnet.
import { type ChipiServerSDK, createClient, SpendingLimitExceeded, STARKNET_CONTRACTS } from "starknet-session-keys/promise"

const USDC_ADDRESS = STARKNET_CONTRACTS.USDC.contractAddress

async function limitedSession(
  sdk: ChipiServerSDK,
  userEncryptKey: string,
  userWallet: { publicKey: string; encryptedPrivateKey: string },
  bearerToken: string,
) {
  const session = sdk.sessions.createSessionKey({ encryptKey: userEncryptKey, durationSeconds: 3600 });
  await sdk.waitForTransaction(await sdk.sessions.addSessionKeyToContract({
    encryptKey: userEncryptKey,
    wallet: userWallet,
    sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 10, allowedEntrypoints: [] },
  }, bearerToken));

  // Set a spending limit: max 1 USDC per call, 50 USDC per day
  const txHash = await sdk.sessions.setSpendingPolicy({
    encryptKey: userEncryptKey,
    wallet: userWallet,
    spendingPolicyConfig: {
      sessionPublicKey: session.publicKey,
      token: USDC_ADDRESS,
      maxPerCall: 1_000_000n,     // 1 USDC (6 decimals)
      maxPerWindow: 50_000_000n,  // 50 USDC
      windowSeconds: 86400,       // 24 hours
    }
  }, bearerToken);
  await sdk.waitForTransaction(txHash);

  const pay = (amount: bigint) => sdk.executeTransactionWithSession({
    params: {
      encryptKey: userEncryptKey,
      wallet: userWallet,
      session,
      calls: [{ contractAddress: USDC_ADDRESS, entrypoint: "transfer", calldata: ["0xbeef", "0x" + amount.toString(16), "0x0"] }],
    },
  });
  await sdk.waitForTransaction(await pay(750_000n));

  const policy = await sdk.sessions.getSpendingPolicy({
    walletAddress: userWallet.publicKey,
    sessionPublicKey: session.publicKey,
    token: USDC_ADDRESS,
  });
  if (policy.maxPerWindow > 0n) {
    console.log(`Spent ${policy.spentInWindow} of ${policy.maxPerWindow} this window`);
  }

  // 2 USDC in one call is above the policy: refused before anything is signed.
  let refused: SpendingLimitExceeded | undefined;
  try {
    await pay(2_000_000n);
  } catch (e) {
    if (e instanceof SpendingLimitExceeded) refused = e;
    else throw e;
  }

  const removeTxHash = await sdk.sessions.removeSpendingPolicy({
    encryptKey: userEncryptKey,
    wallet: userWallet,
    sessionPublicKey: session.publicKey,
    token: USDC_ADDRESS,
  }, bearerToken);
  await sdk.waitForTransaction(removeTxHash);

  return { policy, refused };
}

export async function main() {
  const sdk = createClient({ devnet: { blockTime: "20 millis" } });
  try {
    const wallet = await sdk.devnet!.createWallet({ encryptKey: "1234", fund: { USDC: 100_000_000n } });
    const { policy, refused } = await limitedSession(sdk, "1234", wallet, "sk_dev_example");
    const after = await sdk.sessions.getSpendingPolicy({ walletAddress: wallet.publicKey, sessionPublicKey: refused!.sessionPublicKey, token: USDC_ADDRESS });
    return { policy, refused, after };
  } finally {
    await sdk.close();
  }
}
