"""Data package: perfaudit API tables (TOML). Shipped in the wheel as perfaudit._tables."""
