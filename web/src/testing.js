// Test-only helpers (never loaded by the page): sign typed data with a raw key in the browser
// with viem, to compare with the SDK's eth-account signature for the same key and message.
import { privateKeyToAccount } from "viem/accounts";
import { digest, forViem, typedData } from "./typed.js";

window.careledgerTesting = {
  async signTypedDataWithKey(privateKey, td) {
    return privateKeyToAccount(privateKey).signTypedData(forViem(td));
  },
  digest,
  typedData,
};
