// SPDX-License-Identifier: MIT
// Contracts for the deterministic devchain (tests, demo, benchmark). Not for production use.
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";

contract DevToken is ERC20 {
    uint8 private immutable places;

    constructor(string memory name_, string memory symbol_, uint8 decimals_) ERC20(name_, symbol_) {
        places = decimals_;
    }

    function decimals() public view override returns (uint8) {
        return places;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}

contract DevCollectible is ERC721 {
    constructor() ERC721("Dev Collectible", "DVC") {}

    function mint(address to, uint256 tokenId) external {
        _mint(to, tokenId);
    }

    function burn(uint256 tokenId) external {
        _update(address(0), tokenId, msg.sender); // checks the caller owns or is approved
    }
}

contract DevMultiToken is ERC1155 {
    constructor() ERC1155("") {}

    function mint(address to, uint256 id, uint256 amount) external {
        _mint(to, id, amount, "");
    }

    function mintBatch(address to, uint256[] calldata ids, uint256[] calldata amounts) external {
        _mintBatch(to, ids, amounts, "");
    }
}

contract Child {
    constructor() payable {}
}

/// Moves value between contracts (internal transactions), drives token transfers, creates contracts.
contract Forwarder {
    receive() external payable {}

    function fanOut(address payable[] calldata recipients, uint256[] calldata amounts) public payable {
        for (uint256 i = 0; i < recipients.length; i++) {
            (bool ok, ) = recipients[i].call{value: amounts[i]}("");
            require(ok, "transfer failed");
        }
    }

    /// value → next forwarder → final recipient: a nested call tree.
    function relay(address payable next, address payable recipient) external payable {
        address payable[] memory to = new address payable[](1);
        uint256[] memory amounts = new uint256[](1);
        to[0] = recipient;
        amounts[0] = msg.value;
        Forwarder(next).fanOut{value: msg.value}(to, amounts);
    }

    /// Calls into another contract that moves value, then reverts: the inner frames fail with it.
    function relayThenRevert(address payable next, address payable recipient) external payable {
        this.relayInner{value: msg.value}(next, recipient);
        revert("forced revert after relay");
    }

    function relayInner(address payable next, address payable recipient) external payable {
        address payable[] memory to = new address payable[](1);
        uint256[] memory amounts = new uint256[](1);
        to[0] = recipient;
        amounts[0] = msg.value;
        Forwarder(next).fanOut{value: msg.value}(to, amounts);
    }

    function pullTokens(address token, address from, address to, uint256 amount) external {
        require(IERC20(token).transferFrom(from, to, amount), "transferFrom failed");
    }

    function deploy(uint256 value) external payable returns (address) {
        return address(new Child{value: value}());
    }

    function deploy2(bytes32 salt, uint256 value) external payable returns (address) {
        return address(new Child{salt: salt, value: value}());
    }

    function fail() external payable {
        revert("forced revert");
    }
}
