"""The ledger: an append-only log over every event that matters, hashed as an RFC 6962 Merkle tree."""
