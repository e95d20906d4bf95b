"""The catalog: SQLAlchemy models and queries, the index of everything (SQLite or PostgreSQL)."""

from custos.catalog.db import Database
from custos.catalog.models import Base, Camera, Outage, Segment

__all__ = ["Base", "Camera", "Database", "Outage", "Segment"]
