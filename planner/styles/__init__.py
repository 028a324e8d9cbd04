"""Built-in edit styles as TOML data files (one per style); see planner.styles_loader."""
