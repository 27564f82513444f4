// Hardhat 2 project of the client tests. Network `kaimeng` is the node under test (RPC_URL) with
// dev accounts 0-2 derived from the mnemonic. Hardhat compiles tests/contracts/KaiToken.sol with
// solc-js from node_modules (its usual compiler download is not reachable offline).
require("@nomicfoundation/hardhat-ethers");
const path = require("path");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");
const solc = require("solc");
const { DEV_MNEMONIC } = require("../lib/common");

const SOLC_VERSION = solc.version().split("+")[0];

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async ({ solcVersion }, _hre, runSuper) => {
  if (solcVersion !== SOLC_VERSION) return runSuper();
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: solc.version(),
  };
});

module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" },
  },
  // Hardhat only compiles sources under its root, so the root is tests/ and the sources are
  // tests/contracts; build output stays in this folder.
  paths: {
    root: path.join(__dirname, "..", ".."),
    sources: path.join(__dirname, "..", "..", "contracts"),
    cache: path.join(__dirname, "cache"),
    artifacts: path.join(__dirname, "artifacts"),
  },
  defaultNetwork: "kaimeng",
  networks: {
    kaimeng: {
      url: process.env.RPC_URL || "http://127.0.0.1:8545",
      accounts: { mnemonic: DEV_MNEMONIC, count: 3 },
      timeout: Number(process.env.CLIENT_WAIT_MS || 30_000),
    },
  },
};
