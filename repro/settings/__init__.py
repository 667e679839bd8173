"""The configuration's declarations (one frozen dataclass per TOML section, each key with its type,
default, rule and meaning) and the typed profile built from a loaded one. See repro/settings/declare.py."""
