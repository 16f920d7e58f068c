// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {OwnableUpgradeable} from "@openzeppelin/contracts-upgradeable/access/OwnableUpgradeable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";

/// @title VaultV1
/// @notice Example governed contract behind a UUPS proxy: holds ether balances per account.
/// The owner (the TimelockController) is the only upgrade authority.
/// @custom:oz-upgrades
contract VaultV1 is Initializable, OwnableUpgradeable, UUPSUpgradeable {
    /// @notice Ether held for each account.
    mapping(address account => uint256 amount) public balanceOf;
    /// @notice Sum of all balances.
    uint256 public totalDeposits;

    /// @notice Emitted when `account` deposits `amount` wei.
    event Deposited(address indexed account, uint256 amount);
    /// @notice Emitted when `account` withdraws `amount` wei.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice A withdrawal asked for more than the caller holds.
    error InsufficientBalance(uint256 requested, uint256 available);
    /// @notice Sending ether to the caller failed.
    error TransferFailed();
    /// @notice A zero-value deposit.
    error ZeroDeposit();

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initialize the proxy's storage.
    /// @param owner_ The upgrade authority (the TimelockController).
    function initialize(address owner_) external initializer {
        __Ownable_init(owner_);
    }

    /// @notice Deposit the attached ether to the caller's balance.
    function deposit() external payable {
        if (msg.value == 0) revert ZeroDeposit();
        balanceOf[msg.sender] += msg.value;
        totalDeposits += msg.value;
        emit Deposited(msg.sender, msg.value);
    }

    /// @notice Withdraw `amount` wei of the caller's balance.
    /// @param amount The amount to withdraw, in wei.
    function withdraw(uint256 amount) external {
        uint256 available = balanceOf[msg.sender];
        if (amount > available) revert InsufficientBalance(amount, available);
        balanceOf[msg.sender] = available - amount;
        totalDeposits -= amount;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    /// @notice The implementation's version.
    function version() external pure virtual returns (string memory) {
        return "1.0.0";
    }

    /// @dev Only the owner (the timelock) may upgrade.
    function _authorizeUpgrade(address) internal override onlyOwner {}
}
