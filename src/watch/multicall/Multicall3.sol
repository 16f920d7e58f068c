// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Multicall3 (Gatehouse's aggregate3 subset)
/// @notice Deployed by `gatehouse deploy` on chains without the canonical Multicall3 at
/// 0xcA11bde05977b3631167028862bE2a173976CA11 (its presigned deployment is bound to chain ids it was signed
/// for). Same `aggregate3` ABI as the canonical contract, so the watcher reads through either one.
contract Multicall3 {
    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    struct Result {
        bool success;
        bytes returnData;
    }

    /// @notice Call each target in order; a failing call reverts everything unless it allows failure.
    function aggregate3(Call3[] calldata calls) external payable returns (Result[] memory returnData) {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool success, bytes memory data) = calls[i].target.call(calls[i].callData);
            require(success || calls[i].allowFailure, "Multicall3: call failed");
            returnData[i] = Result(success, data);
        }
    }

    /// @notice The block the calls ran in (lets a reader confirm which block it read).
    function getBlockNumber() external view returns (uint256 blockNumber) {
        blockNumber = block.number;
    }
}
