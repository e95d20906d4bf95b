"""One storage interface for footage: a local folder by default, S3 Object Lock at scale.

Callers see keys, not paths. No delete is exposed: originals are immutable (DESIGN principle 2);
the retention sweeper will get its own narrow, ledgered path.
"""

from custos.storage.base import ObjectInfo, PartialWriter, Storage, WriterLock
from custos.storage.local import LocalStorage

__all__ = ["LocalStorage", "ObjectInfo", "PartialWriter", "Storage", "WriterLock"]
