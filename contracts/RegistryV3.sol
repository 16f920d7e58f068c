// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {OwnableUpgradeable} from "@openzeppelin/contracts-upgradeable/access/OwnableUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {ERC1967Utils} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Utils.sol";

/// @title RegistryV3
/// @notice Storage-compatible upgrade of RegistryV2: the guardian can pause registrations, transfers and
/// releases at once; only the owner (the timelock) can unpause. Ownable's and Pausable's state live in
/// their ERC-7201 namespaces; the guardian is appended after RegistryV2's variables. The proxy stays a
/// Transparent proxy: its ProxyAdmin (owned by the timelock) upgrades it, the owner unpauses it.
/// @custom:oz-upgrades-from RegistryV2
contract RegistryV3 is Initializable, OwnableUpgradeable, PausableUpgradeable {
    /// @notice The owner of each registered name.
    mapping(bytes32 name => address owner) public ownerOf;
    /// @notice How many names are registered.
    uint256 public count;
    /// @notice A label shown by front ends.
    string public label;
    /// @notice How many times each name has changed hands.
    mapping(bytes32 name => uint256 transfers) public transfersOf;
    /// @notice The account that may pause (the policy's guardian); zero: nobody.
    address public guardian;

    /// @notice Emitted when `owner` registers `name`.
    event Registered(bytes32 indexed name, address indexed owner);
    /// @notice Emitted when `name` moves from `from` to `to`.
    event NameTransferred(bytes32 indexed name, address indexed from, address indexed to);
    /// @notice Emitted when `owner` releases `name`.
    event Released(bytes32 indexed name, address indexed owner);
    /// @notice Emitted when the account that may pause changes.
    event GuardianChanged(address indexed previous, address indexed guardian);

    /// @notice The name is already registered.
    error NameTaken(bytes32 name, address owner);
    /// @notice The empty name cannot be registered.
    error EmptyName();
    /// @notice The caller does not own the name.
    error NotNameOwner(bytes32 name, address caller);
    /// @notice Only the guardian may pause.
    error NotGuardian(address caller);
    /// @notice initialize runs only while a new proxy is being deployed.
    error InitializeOnlyAtDeployment();
    /// @notice Only the ProxyAdmin, during an upgrade, may run the upgrade's reinitializer.
    error NotUpgrader(address caller);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @custom:oz-upgrades-validate-as-initializer
    /// @notice Initialize a fresh proxy's storage (version 2, so initializeV3 cannot run after it).
    /// @param label_ The registry's label.
    /// @param owner_ The unpauser (the TimelockController).
    /// @param guardian_ The account that may pause.
    function initialize(string calldata label_, address owner_, address guardian_) external reinitializer(2) {
        // Only inside a new proxy's constructor (it has no code yet): on a V2 proxy upgraded without
        // initializeV3 this reinitializer is otherwise open to anyone, who would make itself the owner.
        if (address(this).code.length != 0) revert InitializeOnlyAtDeployment();
        __Ownable_init(owner_);
        __Pausable_init();
        label = label_;
        _setGuardian(guardian_);
    }

    /// @custom:oz-upgrades-validate-as-initializer
    /// @notice Run once by the V2 → V3 upgrade (upgradeAndCall): names the owner and the guardian.
    /// Only inside that upgrade (the caller is the proxy's ProxyAdmin, from its ERC-1967 admin slot): after an
    /// upgrade that did not call it, anyone could otherwise make themselves the owner.
    /// @param owner_ The unpauser (the TimelockController).
    /// @param guardian_ The account that may pause.
    function initializeV3(address owner_, address guardian_) external reinitializer(2) {
        if (msg.sender != ERC1967Utils.getAdmin()) revert NotUpgrader(msg.sender);
        __Ownable_init(owner_);
        __Pausable_init();
        _setGuardian(guardian_);
    }

    /// @notice Stop registrations, transfers and releases. Guardian only.
    function pause() external {
        if (msg.sender != guardian) revert NotGuardian(msg.sender);
        _pause();
    }

    /// @notice Resume registrations, transfers and releases. Owner (the timelock) only.
    function unpause() external onlyOwner {
        _unpause();
    }

    /// @notice Change the account that may pause. Owner (the timelock) only.
    /// @param guardian_ The new guardian; zero: nobody may pause.
    function setGuardian(address guardian_) external onlyOwner {
        _setGuardian(guardian_);
    }

    /// @notice Register `name` to the caller.
    /// @param name The name to claim.
    function register(bytes32 name) external whenNotPaused {
        if (name == bytes32(0)) revert EmptyName();
        address current = ownerOf[name];
        if (current != address(0)) revert NameTaken(name, current);
        ownerOf[name] = msg.sender;
        count += 1;
        emit Registered(name, msg.sender);
    }

    /// @notice Transfer `name` from the caller to `to`.
    /// @param name The name to move.
    /// @param to The new owner.
    function transferName(bytes32 name, address to) external whenNotPaused {
        if (ownerOf[name] != msg.sender) revert NotNameOwner(name, msg.sender);
        ownerOf[name] = to;
        transfersOf[name] += 1;
        emit NameTransferred(name, msg.sender, to);
    }

    /// @notice Release `name`, so that anyone may register it again.
    /// @param name The name to release.
    function release(bytes32 name) external whenNotPaused {
        if (ownerOf[name] != msg.sender) revert NotNameOwner(name, msg.sender);
        delete ownerOf[name];
        count -= 1;
        emit Released(name, msg.sender);
    }

    /// @notice The implementation's version.
    function version() external pure virtual returns (string memory) {
        return "3.0.0";
    }

    function _setGuardian(address guardian_) private {
        emit GuardianChanged(guardian, guardian_);
        guardian = guardian_;
    }
}
