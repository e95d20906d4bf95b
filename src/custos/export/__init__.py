"""Evidence export packages: the originals of a time range, a playable clip per camera, and a manifest
signed with the deployment's key that proves each original and the access record against a signed tree
head of the ledger; checked offline, on any machine, by `custos verify-export` (HB-18.2, HB-18.3, HB-21.5,
CN-15)."""

from custos.export.package import FORMAT, PackageInfo, build_package
from custos.export.verify import verify_package

__all__ = ["FORMAT", "PackageInfo", "build_package", "verify_package"]
