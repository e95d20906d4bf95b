"""Retention: how long each segment is kept, holds that keep it longer, and the sweeper that deletes
only what has expired and is on no hold (HB-17.6, BJ-13.3, CN-17)."""
