// SPDX-License-Identifier: MIT
// Cross-chain messages between the devchain's two local chains (tests, demo). Not for production use.
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

// The structs of ICM's TeleporterMessenger (ava-labs/icm-contracts, ITeleporterMessenger.sol), field for field.
struct TeleporterMessageReceipt {
    uint256 receivedMessageNonce;
    address relayerRewardAddress;
}

struct TeleporterFeeInfo {
    address feeTokenAddress;
    uint256 amount;
}

struct TeleporterMessageInput {
    bytes32 destinationBlockchainID;
    address destinationAddress;
    TeleporterFeeInfo feeInfo;
    uint256 requiredGasLimit;
    address[] allowedRelayerAddresses;
    bytes message;
}

struct TeleporterMessage {
    uint256 messageNonce;
    address originSenderAddress;
    bytes32 destinationBlockchainID;
    address destinationAddress;
    uint256 requiredGasLimit;
    address[] allowedRelayerAddresses;
    TeleporterMessageReceipt[] receipts;
    bytes message;
}

interface ITeleporterReceiver {
    function receiveTeleporterMessage(bytes32 sourceBlockchainID, address originSenderAddress, bytes calldata message)
        external;
}

/// A local TeleporterMessenger: the real contract's events (v1.0.0's ABI, emitted as it emits them), message ids
/// (keccak256 of messenger, source and destination blockchain ids and nonce), fees, receipts carried back on the
/// next message the other way, relayer rewards and executions, for two anvil chains that have no Warp.
///
/// NO WARP SIGNATURE VERIFICATION: receiveCrossChainMessage takes the message and its source blockchain id as
/// calldata from whoever calls it (the devchain's relayer), where the real contract reads a Warp message signed
/// by the source chain's validators from the transaction's predicate. Anyone can deliver any message: it proves
/// nothing about the source chain. Also unlike the real contract: the chain's blockchain id is given once to
/// initializeBlockchainID (the real one asks the Warp precompile); no retries of sends or of failed executions.
contract DevTeleporterMessenger {
    uint256 private constant MAX_RECEIPTS = 5; // receipts carried per message, as the real contract

    bytes32 public blockchainID;
    uint256 public messageNonce;
    mapping(bytes32 => bool) public messageReceived;
    mapping(bytes32 => bool) private awaitingReceipt;
    mapping(bytes32 => TeleporterFeeInfo) private fees; // until the message's receipt comes back
    mapping(bytes32 => address) private relayerRewardAddresses;
    mapping(bytes32 => TeleporterMessageReceipt[]) private receiptQueues; // per source chain, to carry back
    mapping(bytes32 => uint256) private receiptQueueHeads;
    mapping(address => mapping(address => uint256)) private rewards; // relayer reward address → token → amount

    event BlockchainIDInitialized(bytes32 indexed blockchainID);
    event SendCrossChainMessage(
        bytes32 indexed messageID, bytes32 indexed destinationBlockchainID, TeleporterMessage message,
        TeleporterFeeInfo feeInfo
    );
    event AddFeeAmount(bytes32 indexed messageID, TeleporterFeeInfo updatedFeeInfo);
    event MessageExecutionFailed(bytes32 indexed messageID, bytes32 indexed sourceBlockchainID, TeleporterMessage message);
    event MessageExecuted(bytes32 indexed messageID, bytes32 indexed sourceBlockchainID);
    event ReceiveCrossChainMessage(
        bytes32 indexed messageID, bytes32 indexed sourceBlockchainID, address indexed deliverer, address rewardRedeemer,
        TeleporterMessage message
    );
    event ReceiptReceived(
        bytes32 indexed messageID, bytes32 indexed destinationBlockchainID, address indexed relayerRewardAddress,
        TeleporterFeeInfo feeInfo
    );
    event RelayerRewardsRedeemed(address indexed redeemer, address indexed asset, uint256 amount);

    function initializeBlockchainID(bytes32 id) external {
        require(blockchainID == bytes32(0), "DevTeleporterMessenger: already initialized");
        require(id != bytes32(0), "DevTeleporterMessenger: zero blockchain ID");
        blockchainID = id;
        emit BlockchainIDInitialized(id);
    }

    function calculateMessageID(bytes32 sourceBlockchainID, bytes32 destinationBlockchainID, uint256 nonce)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(address(this), sourceBlockchainID, destinationBlockchainID, nonce));
    }

    function sendCrossChainMessage(TeleporterMessageInput calldata input) external returns (bytes32 messageID) {
        require(blockchainID != bytes32(0), "DevTeleporterMessenger: blockchain ID not initialized");
        TeleporterMessage memory message = TeleporterMessage({
            messageNonce: ++messageNonce,
            originSenderAddress: msg.sender,
            destinationBlockchainID: input.destinationBlockchainID,
            destinationAddress: input.destinationAddress,
            requiredGasLimit: input.requiredGasLimit,
            allowedRelayerAddresses: input.allowedRelayerAddresses,
            receipts: _receiptsToCarry(input.destinationBlockchainID),
            message: input.message
        });
        messageID = calculateMessageID(blockchainID, input.destinationBlockchainID, message.messageNonce);
        if (input.feeInfo.amount > 0) {
            require(input.feeInfo.feeTokenAddress != address(0), "DevTeleporterMessenger: zero fee asset");
            require(IERC20(input.feeInfo.feeTokenAddress).transferFrom(msg.sender, address(this), input.feeInfo.amount));
        }
        awaitingReceipt[messageID] = true;
        fees[messageID] = input.feeInfo;
        emit SendCrossChainMessage(messageID, input.destinationBlockchainID, message, input.feeInfo);
    }

    function addFeeAmount(bytes32 messageID, address feeTokenAddress, uint256 additionalFeeAmount) external {
        require(awaitingReceipt[messageID], "DevTeleporterMessenger: message not found");
        require(additionalFeeAmount > 0, "DevTeleporterMessenger: zero additional fee amount");
        require(fees[messageID].feeTokenAddress == feeTokenAddress, "DevTeleporterMessenger: invalid fee asset");
        require(IERC20(feeTokenAddress).transferFrom(msg.sender, address(this), additionalFeeAmount));
        fees[messageID].amount += additionalFeeAmount;
        emit AddFeeAmount(messageID, fees[messageID]);
    }

    /// Delivers `message` from `sourceBlockchainID` without any proof that that chain sent it (see above).
    function receiveCrossChainMessage(
        bytes32 sourceBlockchainID,
        TeleporterMessage calldata message,
        address relayerRewardAddress
    ) external {
        require(message.destinationBlockchainID == blockchainID, "DevTeleporterMessenger: invalid destination");
        bytes32 messageID = calculateMessageID(sourceBlockchainID, blockchainID, message.messageNonce);
        require(!messageReceived[messageID], "DevTeleporterMessenger: message already received");
        require(_allowed(msg.sender, message.allowedRelayerAddresses), "DevTeleporterMessenger: unauthorized relayer");
        messageReceived[messageID] = true;
        relayerRewardAddresses[messageID] = relayerRewardAddress;
        for (uint256 i; i < message.receipts.length; ++i) {
            _markReceipt(sourceBlockchainID, message.receipts[i]);
        }
        receiptQueues[sourceBlockchainID].push(TeleporterMessageReceipt(message.messageNonce, relayerRewardAddress));
        emit ReceiveCrossChainMessage(messageID, sourceBlockchainID, msg.sender, relayerRewardAddress, message);
        if (message.message.length > 0) {
            _execute(messageID, sourceBlockchainID, message);
        }
    }

    function getFeeInfo(bytes32 messageID) external view returns (address, uint256) {
        return (fees[messageID].feeTokenAddress, fees[messageID].amount);
    }

    function getRelayerRewardAddress(bytes32 messageID) external view returns (address) {
        require(messageReceived[messageID], "DevTeleporterMessenger: message not received");
        return relayerRewardAddresses[messageID];
    }

    function checkRelayerRewardAmount(address relayer, address feeAsset) external view returns (uint256) {
        return rewards[relayer][feeAsset];
    }

    function redeemRelayerRewards(address feeAsset) external {
        uint256 amount = rewards[msg.sender][feeAsset];
        require(amount > 0, "DevTeleporterMessenger: no reward to redeem");
        rewards[msg.sender][feeAsset] = 0;
        emit RelayerRewardsRedeemed(msg.sender, feeAsset, amount);
        require(IERC20(feeAsset).transfer(msg.sender, amount));
    }

    function _receiptsToCarry(bytes32 destinationBlockchainID) private returns (TeleporterMessageReceipt[] memory) {
        TeleporterMessageReceipt[] storage queue = receiptQueues[destinationBlockchainID];
        uint256 head = receiptQueueHeads[destinationBlockchainID];
        uint256 count = queue.length - head < MAX_RECEIPTS ? queue.length - head : MAX_RECEIPTS;
        TeleporterMessageReceipt[] memory carried = new TeleporterMessageReceipt[](count);
        for (uint256 i; i < count; ++i) {
            carried[i] = queue[head + i];
        }
        receiptQueueHeads[destinationBlockchainID] = head + count;
        return carried;
    }

    function _markReceipt(bytes32 destinationBlockchainID, TeleporterMessageReceipt calldata receipt) private {
        bytes32 messageID = calculateMessageID(blockchainID, destinationBlockchainID, receipt.receivedMessageNonce);
        if (!awaitingReceipt[messageID]) {
            return; // a receipt sent twice, or for a message this chain never sent
        }
        awaitingReceipt[messageID] = false;
        TeleporterFeeInfo memory fee = fees[messageID];
        delete fees[messageID];
        rewards[receipt.relayerRewardAddress][fee.feeTokenAddress] += fee.amount;
        emit ReceiptReceived(messageID, destinationBlockchainID, receipt.relayerRewardAddress, fee);
    }

    function _execute(bytes32 messageID, bytes32 sourceBlockchainID, TeleporterMessage calldata message) private {
        require(gasleft() >= message.requiredGasLimit, "DevTeleporterMessenger: insufficient gas");
        bool executed;
        if (message.destinationAddress.code.length > 0) {
            (executed,) = message.destinationAddress.call{gas: message.requiredGasLimit}(
                abi.encodeCall(
                    ITeleporterReceiver.receiveTeleporterMessage,
                    (sourceBlockchainID, message.originSenderAddress, message.message)
                )
            );
        }
        if (executed) {
            emit MessageExecuted(messageID, sourceBlockchainID);
        } else {
            emit MessageExecutionFailed(messageID, sourceBlockchainID, message);
        }
    }

    function _allowed(address relayer, address[] calldata allowed) private pure returns (bool) {
        if (allowed.length == 0) {
            return true;
        }
        for (uint256 i; i < allowed.length; ++i) {
            if (allowed[i] == relayer) {
                return true;
            }
        }
        return false;
    }
}

/// The receiving application of the devchain's messages: counts them, and refuses the payload "revert" so that
/// its messenger records a failed execution.
contract DevIcmReceiver is ITeleporterReceiver {
    address public constant MESSENGER = 0x253b2784c75e510dD0fF1da844684a1aC0aa5fcf;
    uint256 public received;
    bytes32 public lastSourceBlockchainID;

    function receiveTeleporterMessage(bytes32 sourceBlockchainID, address, bytes calldata message) external {
        require(msg.sender == MESSENGER, "DevIcmReceiver: only the messenger delivers");
        require(keccak256(message) != keccak256("revert"), "DevIcmReceiver: asked to revert");
        received += 1;
        lastSourceBlockchainID = sourceBlockchainID;
    }
}
