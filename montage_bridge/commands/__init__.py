"""One module per CLI command (group); `montage_bridge.cli` registers them."""
