// SPDX-License-Identifier: MIT
// Contracts that emit the events the events family declares, and tokens whose metadata is awkward the
// way real ones are (tests, demo, benchmark). Minimal on purpose: the pricing is not a real DEX's, the
// events and the token moves are. Not for production use.
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// WETH9's interface and events. Name, symbol and decimals are constants in code (not storage), so the
/// runtime code alone is the whole contract: the devchain places it at mainnet WAVAX's address.
contract DevWAVAX {
    event Approval(address indexed src, address indexed guy, uint256 wad);
    event Transfer(address indexed src, address indexed dst, uint256 wad);
    event Deposit(address indexed dst, uint256 wad);
    event Withdrawal(address indexed src, uint256 wad);

    mapping(address => uint256) public balanceOf;

    function name() external pure returns (string memory) { return "Wrapped AVAX"; }
    function symbol() external pure returns (string memory) { return "WAVAX"; }
    function decimals() external pure returns (uint8) { return 18; }
    function totalSupply() external view returns (uint256) { return address(this).balance; }

    receive() external payable { deposit(); }

    function deposit() public payable {
        balanceOf[msg.sender] += msg.value;
        emit Deposit(msg.sender, msg.value);
    }

    function withdraw(uint256 wad) external {
        require(balanceOf[msg.sender] >= wad, "balance");
        balanceOf[msg.sender] -= wad;
        payable(msg.sender).transfer(wad);
        emit Withdrawal(msg.sender, wad);
    }

    function transfer(address dst, uint256 wad) external returns (bool) {
        require(balanceOf[msg.sender] >= wad, "balance");
        balanceOf[msg.sender] -= wad;
        balanceOf[dst] += wad;
        emit Transfer(msg.sender, dst, wad);
        return true;
    }
}

/// A Liquidity Book pair's Swap (Trader Joe v2.1/v2.2 signature): amounts packed two uint128 to a bytes32,
/// X in the low 128 bits, Y in the high. One bin at a fixed price (Y base units per X base unit:
/// priceNumerator / priceDenominator), less a 0.1% fee taken from the amount in.
contract DevLBPair {
    event Swap(address indexed sender, address indexed to, uint24 id, bytes32 amountsIn, bytes32 amountsOut,
               uint24 volatilityAccumulator, bytes32 totalFees, bytes32 protocolFees);

    IERC20 private immutable tokenX;
    IERC20 private immutable tokenY;
    uint256 private immutable priceNumerator;
    uint256 private immutable priceDenominator;
    uint24 public constant ACTIVE_ID = 8388608; // 2^23: LB's price-1 bin

    constructor(IERC20 x, IERC20 y, uint256 numerator, uint256 denominator) {
        tokenX = x;
        tokenY = y;
        priceNumerator = numerator;
        priceDenominator = denominator;
    }

    function getTokenX() external view returns (IERC20) { return tokenX; }
    function getTokenY() external view returns (IERC20) { return tokenY; }

    function swap(bool swapForY, address to, uint128 amountIn) external returns (uint128 amountOut) {
        (IERC20 tokenIn, IERC20 tokenOut) = swapForY ? (tokenX, tokenY) : (tokenY, tokenX);
        uint128 fee = amountIn / 1000;
        amountOut = swapForY ? uint128(uint256(amountIn - fee) * priceNumerator / priceDenominator)
                             : uint128(uint256(amountIn - fee) * priceDenominator / priceNumerator);
        require(tokenIn.transferFrom(msg.sender, address(this), amountIn), "pull failed");
        require(tokenOut.transfer(to, amountOut), "pay failed");
        (bytes32 packedIn, bytes32 packedOut, bytes32 fees) = swapForY
            ? (_pack(amountIn, 0), _pack(0, amountOut), _pack(fee, 0))
            : (_pack(0, amountIn), _pack(amountOut, 0), _pack(0, fee));
        emit Swap(msg.sender, to, ACTIVE_ID, packedIn, packedOut, uint24(fee % 2**24), fees, _pack(0, 0));
    }

    function _pack(uint128 x, uint128 y) private pure returns (bytes32) {
        return bytes32(uint256(x) | (uint256(y) << 128));
    }
}

/// A Uniswap v3 pool's Swap: signed amounts from the pool's side (in > 0, out < 0), sqrtPriceX96 above
/// 2^128 and a negative tick. A fixed price of 1 less 0.05%.
contract DevV3Pool {
    event Swap(address indexed sender, address indexed recipient, int256 amount0, int256 amount1,
               uint160 sqrtPriceX96, uint128 liquidity, int24 tick);

    IERC20 public immutable token0;
    IERC20 public immutable token1;

    constructor(IERC20 a, IERC20 b) {
        token0 = a;
        token1 = b;
    }

    function swap(address recipient, bool zeroForOne, uint256 amountIn) external returns (uint256 amountOut) {
        amountOut = amountIn - amountIn / 2000;
        (IERC20 tokenIn, IERC20 tokenOut) = zeroForOne ? (token0, token1) : (token1, token0);
        require(tokenIn.transferFrom(msg.sender, address(this), amountIn), "pull failed");
        require(tokenOut.transfer(recipient, amountOut), "pay failed");
        (int256 amount0, int256 amount1) = zeroForOne
            ? (int256(amountIn), -int256(amountOut))
            : (-int256(amountOut), int256(amountIn));
        emit Swap(msg.sender, recipient, amount0, amount1, uint160(2**130 + amountIn % 2**64),
                  uint128(2**127 + amountOut % 2**64), zeroForOne ? int24(-887) : int24(-886));
    }
}

/// Balances, mint and transfer with ERC-20's Transfer event: what the two awkward tokens below share.
abstract contract DevLedger {
    event Transfer(address indexed from, address indexed to, uint256 value);

    mapping(address => uint256) public balanceOf;

    function mint(address to, uint256 amount) public virtual {
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        emit Transfer(msg.sender, to, amount);
        return true;
    }
}

/// MKR's shape: name and symbol are bytes32, decimals a uint256.
contract DevBytes32Token is DevLedger {
    bytes32 public name = "Dev Maker";
    bytes32 public symbol = "DMKR";
    uint256 public decimals = 18;
    uint256 public totalSupply;

    function mint(address to, uint256 amount) public override {
        totalSupply += amount;
        super.mint(to, amount);
    }
}

/// A token with no decimals() (the call reverts: no such function), a name that is not valid UTF-8 and a
/// totalSupply() that reverts with a reason.
contract DevOddToken is DevLedger {
    function name() external pure returns (string memory) {
        bytes memory raw = hex"4f6464ff546f6b656e"; // "Odd", an invalid byte, "Token"
        return string(raw);
    }
    function symbol() external pure returns (string memory) { return "ODD"; }
    function totalSupply() external pure returns (uint256) { revert("supply is not tracked"); }
}
