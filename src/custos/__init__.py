"""custos: a video management system for public-security video that is accountable by construction."""

__version__ = "0.1.0"
