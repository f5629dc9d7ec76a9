//! Continuous mode: `islet serve` follows the upstreams of `islet.toml`.
